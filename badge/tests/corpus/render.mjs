// Reads a JSON array of badge-maker formats on stdin and writes a JSON array with, for each,
// badge-maker's SVG (or `{"error": message}` when badge-maker refuses the format).
import { makeBadge } from 'badge-maker'

let input = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) input += chunk
const results = JSON.parse(input).map(format => {
  try {
    return makeBadge(format)
  } catch (error) {
    return { error: String(error.message) }
  }
})
process.stdout.write(JSON.stringify(results))
