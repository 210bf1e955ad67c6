// Validates an AsyncAPI document with the official parser (@asyncapi/parser, installed in
// .dev/tools/asyncapi by scripts/test.sh): prints each error or warning, exits 1 on an error.
//   node scripts/validate-asyncapi.cjs docs/asyncapi.yaml
const fs = require("fs");
const path = require("path");
const { Parser } = require(path.join(__dirname, "../.dev/tools/asyncapi/node_modules/@asyncapi/parser/cjs"));

async function main() {
  const file = process.argv[2];
  const diagnostics = (await new Parser().validate(fs.readFileSync(file, "utf8"))) || [];
  // Severity 0 is an error, 1 a warning (Spectral's scale).
  for (const d of diagnostics) {
    console.log(`${d.severity === 0 ? "error" : "warning"} ${d.code} at ${(d.path || []).join(".")}: ${d.message}`);
  }
  process.exit(diagnostics.some((d) => d.severity === 0) ? 1 : 0);
}
main().catch((e) => {
  console.error(e);
  process.exit(2);
});
