import { BUILT_DIR, writeCouncilAssets } from './assets.js';

// `npm run build` runs this after tsc: the council page's bundle goes beside the compiled plugin.
await writeCouncilAssets();
console.log(`council page built into ${BUILT_DIR}`);
