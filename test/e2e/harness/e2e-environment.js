// The workspace's Jest environment, plus a count of failed tests and hooks in this file, so the harness can
// print the tails of the processes' logs in afterAll when (and only when) something failed.
const GooseherdEnvironment = require('../../../jest.environment.js');

class E2eEnvironment extends GooseherdEnvironment {
  async handleTestEvent(event) {
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      this.global.__gooseherdE2eFailures = (this.global.__gooseherdE2eFailures ?? 0) + 1;
    }
  }
}

module.exports = E2eEnvironment;
