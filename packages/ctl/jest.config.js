module.exports = { ...require('../../jest.preset.js'), displayName: 'ctl', rootDir: __dirname };
