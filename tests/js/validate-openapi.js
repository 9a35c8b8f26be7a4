// Validates an OpenAPI 3 document with @apidevtools/swagger-parser (schema and
// $refs) and prints {"METHOD /path": operationId, ...} as one JSON line, so
// a test can hold the document against the daemon's routes.
//   node validate-openapi.js docs/openapi.yaml
'use strict';
const SwaggerParser = require('@apidevtools/swagger-parser');

async function main() {
  const file = process.argv[2];
  if (!file) throw new Error('usage: validate-openapi.js FILE');
  const api = await SwaggerParser.validate(file);
  const ops = {};
  for (const [path, item] of Object.entries(api.paths || {})) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
      if (item[method]) ops[`${method.toUpperCase()} ${path}`] = item[method].operationId || '';
    }
  }
  process.stdout.write(JSON.stringify({ openapi: api.openapi, operations: ops }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`validate-openapi.js: ${e.message}\n`);
  process.exit(1);
});
