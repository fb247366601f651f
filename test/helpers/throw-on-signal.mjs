// Loaded with --import into a lyncproxy process by test/never-down-process.test.ts: on SIGUSR2 a
// timer throws, and a promise rejects, outside any request, as a fault in a library callback would.
process.on('SIGUSR2', () => {
  setTimeout(() => { throw new Error('thrown outside any request on purpose') }, 0)
  void Promise.reject(new Error('rejected outside any request on purpose'))
})
