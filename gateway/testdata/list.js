// Lists the channels through Asterisk's Node ari-client (npm):
// node list.js URL USER PASSWORD. Prints "channel ID" for each.
'use strict';

const client = require('ari-client');
const [url, user, pass] = process.argv.slice(2);

(async () => {
  const ari = await client.connect(url, user, pass);
  const channels = await ari.channels.list();
  for (const c of channels) {
    console.log('channel ' + c.id);
  }
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
