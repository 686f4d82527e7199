module.exports = { ...require('../../jest.preset.js'), displayName: 'oci-spec', rootDir: __dirname };
