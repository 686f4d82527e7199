module.exports = { ...require('../../jest.preset.js'), displayName: 'cri-api', rootDir: __dirname };
