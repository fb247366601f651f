// @ts-check
// How much of the live feed the page keeps, and what it says of what it let go. Pure (no DOM), so
// that node's tests read it (test/flow-groups.test.ts).

// The live records the flow view keeps: a teaching session, not a capture (the HAR export is the
// capture, and a replay has no limit but the file's). A paused feed holds no more than this for
// it either: on Resume the view would keep only the newest this many anyway.
export const MAX_LIVE = 1000

/**
 * Appends `item` to `list`, then drops the oldest items past `max`.
 * @template T
 * @param {T[]} list
 * @param {T} item
 * @param {number} max
 * @returns {T[]} the items dropped, oldest first
 */
export function pushBounded (list, item, max) {
  list.push(item)
  return list.length > max ? list.splice(0, list.length - max) : []
}

/**
 * What the flow view's counter says while the feed is paused: how many exchanges wait, and how
 * many older ones were let go to keep the newest.
 * @param {number} waiting
 * @param {number} dropped
 */
export function waitingText (waiting, dropped) {
  if (waiting === 0 && dropped === 0) return ''
  const waits = `${waiting} new ${waiting === 1 ? 'exchange waits' : 'exchanges wait'}`
  return dropped === 0 ? waits : `${waits}, ${dropped} older ${dropped === 1 ? 'one' : 'ones'} dropped`
}
