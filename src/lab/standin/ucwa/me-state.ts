// What an application has published of its user (me.ts reads and changes it): kept apart so that
// the application registry can hold it without importing the resources that serve it.

// presence_ref.md: what a client may set (PreferredAvailability); what it reads back is one of these.
export const PREFERRED_AVAILABILITY = ['Online', 'Busy', 'DoNotDisturb', 'BeRightBack', 'Away', 'Offwork'] as const
export type PreferredAvailability = typeof PREFERRED_AVAILABILITY[number]

export interface MeState {
  // Out of "lurker mode": makeMeAvailable has succeeded.
  available: boolean
  availability: PreferredAvailability
  note: string
  location: string
  supportedModalities: string[]
  supportedMessageFormats: string[]
}

export function newMeState (): MeState {
  return { available: false, availability: 'Online', note: '', location: '', supportedModalities: [], supportedMessageFormats: [] }
}
