// Validates Forge manifest.yml files with Atlassian's own @forge/manifest (pinned by
// package-lock.json): the full validation `forge lint` and `forge deploy` run, plus the
// product-trigger and forge-remote-compute validations.
//
//   node validate.js /path/to/manifest.yml [/other/manifest.yml ...]
//
// Prints one JSON object per file, one per line, in order:
// {file, success, errors: [{validation, level, message, line, column}]}, where success is true
// only if every validation succeeded. Loading the package takes seconds, so give every file to
// one run. Exits 2 if the package cannot run. Driven by cli/tests/forge_manifest.rs.
'use strict';

const manifest = require('@forge/manifest');

const VALIDATIONS = [
  manifest.ValidationTypes.FULL,
  manifest.ValidationTypes.PRODUCT_TRIGGER,
  manifest.ValidationTypes.FORGE_REMOTE_COMPUTE,
];

async function check(file) {
  let success = true;
  const errors = [];
  for (const validation of VALIDATIONS) {
    if (!validation) {
      throw new Error('@forge/manifest lacks a validation type this script relies on');
    }
    const result = await manifest.ProcessorBuilder.instance()
      .withValidation(validation)
      .build()
      .process(file);
    success = success && result.success === true;
    for (const error of result.errors || []) {
      errors.push({
        validation,
        level: error.level,
        message: error.message,
        line: error.line,
        column: error.column,
      });
    }
  }
  return { file, success, errors };
}

async function main(files) {
  if (files.length === 0) {
    throw new Error('usage: node validate.js <manifest.yml> [<manifest.yml> ...]');
  }
  for (const file of files) {
    process.stdout.write(JSON.stringify(await check(file)) + '\n');
  }
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`validate.js: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
