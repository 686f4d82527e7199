module.exports = { ...require('../../jest.preset.js'), displayName: 'cri-server', rootDir: __dirname };
