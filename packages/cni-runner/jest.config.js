module.exports = { ...require('../../jest.preset.js'), displayName: 'cni-runner', rootDir: __dirname };
