import t from 'tap'
t.test('toolchain', async (t) => {
  const x: number = 1
  t.equal(x, 1)
})
