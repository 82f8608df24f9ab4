#!/usr/bin/env node
// Validates docker-compose.yml where there is no Docker (CI here): against the Compose Specification's own JSON
// schema (.ci/compose-spec.json, from github.com/compose-spec/compose-spec schema/compose-spec.json at commit
// 170098b, 2026-06-23), then against the code: every `node dist/….js` a service runs (its command, entrypoint or
// healthcheck) is built from a source file that exists. `docker compose config` does more (interpolation, merge
// semantics) and .ci/run runs it too where Docker exists. Libraries: ajv (JSON Schema draft-07) and yaml (YAML 1.2
// with merge keys), both well kept.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

/** Problems with a compose file's text, one line each (empty when it is valid). */
function composeProblems(text) {
  const YAML = require('yaml');
  const Ajv = require('ajv');
  let doc;
  try {
    doc = YAML.parse(text, { merge: true });
  } catch (err) {
    return [`not valid YAML: ${err.message.split('\n')[0]}`];
  }
  const schema = JSON.parse(readFileSync(join(root, '.ci/compose-spec.json'), 'utf8'));
  // The schema names draft-07 by an https URL ajv does not know: its own meta-schema check is skipped, not the file's.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  const valid = ajv.validate(schema, doc);
  const problems = valid ? [] : ajv.errors.map((e) => `${e.instancePath || '/'} ${e.message}`);
  for (const [name, service] of Object.entries((doc && doc.services) || {})) {
    // What a container runs: its command, its entrypoint and its healthcheck.
    const runs = {
      command: service && service.command,
      entrypoint: service && service.entrypoint,
      'healthcheck/test': service && service.healthcheck && service.healthcheck.test,
    };
    for (const [key, args] of Object.entries(runs)) {
      for (const arg of Array.isArray(args) ? args : []) {
        const m = /^dist\/(.+)\.js$/.exec(String(arg));
        if (m && !existsSync(join(root, `${m[1]}.ts`))) {
          problems.push(`/services/${name}/${key} runs ${arg}, but ${m[1]}.ts does not exist`);
        }
      }
    }
  }
  return problems;
}

module.exports = { composeProblems };

if (require.main === module) {
  const file = process.argv[2] || join(root, 'docker-compose.yml');
  const problems = composeProblems(readFileSync(file, 'utf8'));
  for (const p of problems) process.stderr.write(`${file}: ${p}\n`);
  process.stdout.write(problems.length ? '' : `${file}: valid (Compose Specification schema, commands built)\n`);
  process.exit(problems.length ? 1 : 0);
}
