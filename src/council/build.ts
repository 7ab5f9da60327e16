import { COUNCIL_PAGE, FINANCE_PAGE, writeCouncilAssets } from './assets.js';

// `npm run build` runs this after tsc: each page's bundle goes beside its compiled plugin.
for (const page of [COUNCIL_PAGE, FINANCE_PAGE]) {
  await writeCouncilAssets(page.builtDir, page);
  console.log(`page built into ${page.builtDir}`);
}
