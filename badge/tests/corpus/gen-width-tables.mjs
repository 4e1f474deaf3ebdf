// Writes anafanafo's character width tables (the ones badge-maker measures text with) as the
// compact binary tables of badge/src/widths/: one 5-byte record per run of code points, sorted,
// `first code point (u24 LE), width in hundredths of a pixel (u16 LE)`; a run lasts until the next
// record's first code point; width 0xFFFF marks code points anafanafo has no width for (it guesses
// the width of `m` there). Run: `node gen-width-tables.mjs` after `npm ci`.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const dataDir = require.resolve('anafanafo/package.json').replace(/package\.json$/, 'data/')
const outDir = new URL('../../src/widths/', import.meta.url)
mkdirSync(outDir, { recursive: true })
const NO_WIDTH = 0xffff

for (const name of [
  'verdana-11px-normal',
  'verdana-10px-normal',
  'verdana-10px-bold',
  'helvetica-11px-bold',
]) {
  const ranges = JSON.parse(readFileSync(`${dataDir}${name}.json`, 'utf8'))
  const records = []
  let next = 0
  for (const [lower, upper, width] of ranges) {
    if (lower > next) records.push([next, NO_WIDTH])
    const hundredths = Math.round(width * 100)
    if (hundredths / 100 !== width || hundredths >= NO_WIDTH) throw Error(`${name}: width ${width}`)
    records.push([lower, hundredths])
    next = upper + 1
  }
  records.push([next, NO_WIDTH])
  const bytes = Buffer.alloc(records.length * 5)
  records.forEach(([first, hundredths], i) => {
    bytes.writeUIntLE(first, i * 5, 3)
    bytes.writeUInt16LE(hundredths, i * 5 + 3)
  })
  writeFileSync(new URL(`${name}.bin`, outDir), bytes)
  console.log(`${name}: ${ranges.length} ranges, ${records.length} records`)
}
