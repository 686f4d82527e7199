// A jest reporter that records each project's totals in tmp/test-results/<project>.json, so the
// test command can print one closing line for the whole workspace ("N passed, N failed").
'use strict';
const fs = require('node:fs');
const path = require('node:path');

class ResultsReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
  }
  onRunComplete(_contexts, results) {
    const dir = path.resolve(__dirname, '..', '..', 'tmp', 'test-results');
    fs.mkdirSync(dir, { recursive: true });
    const name = path.basename(this.globalConfig.rootDir);
    const out = {
      project: name,
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
      suites: results.numTotalTestSuites,
    };
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(out) + '\n');
  }
}
module.exports = ResultsReporter;
