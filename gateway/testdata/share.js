// Three applications of Asterisk's Node ari-client (npm) share the
// inbound calls of one Stasis application through the gateway:
// node share.js URL USER PASSWORD APP CALLS. Prints "ready" once all three
// are started, "handled I CHANNEL" for each StasisStart instance I got
// (it hangs the call up), and exits once CALLS calls were handled in all.
'use strict';

const client = require('ari-client');
const [url, user, pass, app, calls] = process.argv.slice(2);
const want = parseInt(calls, 10);
let handled = 0;

(async () => {
  const instances = [];
  for (let i = 0; i < 3; i++) {
    const ari = await client.connect(url, user, pass);
    ari.on('StasisStart', (event, channel) => {
      console.log('handled ' + i + ' ' + channel.id);
      channel.hangup(() => {});
      if (++handled === want) {
        setTimeout(() => process.exit(0), 500); // a duplicate would show meanwhile
      }
    });
    await ari.start(app);
    instances.push(ari);
  }
  console.log('ready');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
