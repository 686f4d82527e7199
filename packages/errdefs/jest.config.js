module.exports = { ...require('../../jest.preset.js'), displayName: 'errdefs', rootDir: __dirname };
