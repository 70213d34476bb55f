// Drives Asterisk's own Node ARI client (npm ari-client) through a whole
// call against an ARI server (the simulator, started by arisim's
// TestAriClient): node suite.js URL USER PASSWORD.
//
// Every step prints "ok N name" or "not ok N name: why", and the last line
// is "ari-client: PASSED/TOTAL". The exit status is 0 only when every step
// passed. A line "inbound APP" asks the driver for a call entering Stasis
// application APP from the dialplan, as a phone would place it: the
// shipped examples wait for one.
'use strict';

const client = require('ari-client');
const WebSocket = require('ws');

const [url, user, pass] = process.argv.slice(2);
if (!url || !user || !pass) {
  console.error('usage: node suite.js URL USER PASSWORD');
  process.exit(2);
}

const TIMEOUT = 5000;

// waitEvent resolves with [event, instances] for the first event of type
// that satisfies pred, or rejects after ms. Register it before the action
// that causes the event.
function waitEvent(ari, type, pred, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ari.removeListener(type, on);
      reject(new Error('no ' + type + ' within ' + (ms || TIMEOUT) + ' ms'));
    }, ms || TIMEOUT);
    function on(event, instances) {
      if (pred && !pred(event, instances)) {
        return;
      }
      clearTimeout(timer);
      ari.removeListener(type, on);
      resolve([event, instances]);
    }
    ari.on(type, on);
  });
}

const onChannel = (id) => (e) => e.channel && e.channel.id === id;

function check(cond, what) {
  if (!cond) {
    throw new Error(what);
  }
}

// eventually polls fn until it returns true (or throws after ms).
async function eventually(fn, what, ms) {
  const end = Date.now() + (ms || TIMEOUT);
  for (;;) {
    if (await fn()) {
      return;
    }
    if (Date.now() > end) {
      throw new Error(what);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function bridgeGone(ari, id) {
  const list = await ari.bridges.list();
  return !list.some((b) => b.id === id);
}

const steps = [];
function step(name, fn) {
  steps.push({ name, fn });
}

// --- the call scenario ---------------------------------------------------

const APP = 'ari-client-suite';
const st = {}; // what earlier steps made

step('connect: API built from /ari/api-docs', async () => {
  st.ari = await client.connect(url, user, pass);
  for (const r of ['asterisk', 'applications', 'bridges', 'channels', 'deviceStates',
    'endpoints', 'events', 'playbacks', 'recordings', 'sounds']) {
    check(st.ari[r], 'no resource ' + r);
  }
  check(typeof st.ari.channels.originate === 'function', 'no channels.originate');
  check(typeof st.ari.Channel === 'function', 'no Channel creator');
});

step('asterisk.getInfo', async () => {
  const info = await st.ari.asterisk.getInfo();
  check(info.system && info.system.entity_id, 'no system.entity_id in ' + JSON.stringify(info));
});

step('start application', async () => {
  await st.ari.start(APP);
  const apps = await st.ari.applications.list();
  check(apps.some((a) => a.name === APP), 'application not listed: ' + apps.map((a) => a.name));
});

// The ws package (which ari-client uses, and whose behaviour browsers
// share) insists on the subprotocol it asked for: Asterisk answers
// Sec-WebSocket-Protocol: ari, and refuses a protocol it does not have.
function openSocket(protocol) {
  const wsURL = url.replace(/^http/, 'ws') + '/ari/events?app=' + APP + '-ws&api_key=' +
    encodeURIComponent(user) + ':' + encodeURIComponent(pass);
  return new Promise((resolve) => {
    const ws = new WebSocket(wsURL, protocol);
    ws.on('open', () => {
      resolve({ protocol: ws.protocol });
      ws.close();
    });
    ws.on('error', (err) => resolve({ error: err.message }));
  });
}

step('ws with Sec-WebSocket-Protocol: ari gets ari', async () => {
  const got = await openSocket('ari');
  check(got.protocol === 'ari', 'got ' + JSON.stringify(got));
});

step('ws with an unsupported subprotocol is refused with 400', async () => {
  const got = await openSocket('chat');
  check(got.error && got.error.indexOf('400') >= 0, 'got ' + JSON.stringify(got));
});

// Connect, then originate into the application the moment the socket is
// open: every round must see its StasisStart (the application is
// registered before the handshake completes).
step('connect-then-originate: 100 rounds, every StasisStart', async () => {
  const rounds = 100;
  let got = 0;
  for (let i = 0; i < rounds; i++) {
    const app = APP + '-race' + i;
    const wsURL = url.replace(/^http/, 'ws') + '/ari/events?app=' + app + '&api_key=' +
      encodeURIComponent(user) + ':' + encodeURIComponent(pass);
    const ws = new WebSocket(wsURL);
    const seen = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), TIMEOUT);
      ws.on('message', (msg) => {
        if (JSON.parse(msg).type === 'StasisStart') {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    const channel = await st.ari.channels.originate({ endpoint: 'Local/echo@default', app });
    if (await seen) {
      got++;
    }
    await st.ari.channels.hangup({ channelId: channel.id }).catch(() => {});
    ws.close();
  }
  console.log('connect-then-originate: ' + got + '/' + rounds);
  check(got === rounds, got + '/' + rounds + ' rounds got StasisStart');
});

step('originate into the application: StasisStart', async () => {
  st.channel = st.ari.Channel();
  const started = waitEvent(st.ari, 'StasisStart', onChannel(st.channel.id));
  await st.channel.originate({ endpoint: 'Local/echo@default', app: APP, appArgs: 'one,two' });
  const [event, channel] = await started;
  check(event.args.join(',') === 'one,two', 'args ' + JSON.stringify(event.args));
  check(channel.id === st.channel.id, 'instance ' + channel.id);
});

step('answer', async () => {
  await st.channel.answer();
  const c = await st.ari.channels.get({ channelId: st.channel.id });
  check(c.state === 'Up', 'state ' + c.state);
});

step('play and wait for PlaybackFinished', async () => {
  const playback = st.ari.Playback();
  const started = waitEvent(st.ari, 'PlaybackStarted', (e) => e.playback.id === playback.id);
  const finished = waitEvent(st.ari, 'PlaybackFinished', (e) => e.playback.id === playback.id);
  await st.channel.play({ media: 'sound:beep' }, playback);
  await started;
  const [event] = await finished;
  check(event.playback.state === 'done', 'state ' + event.playback.state);
});

step('bridge: create, add, list, remove', async () => {
  st.bridge = st.ari.Bridge();
  await st.bridge.create({ type: 'mixing', name: 'suite' });
  const entered = waitEvent(st.ari, 'ChannelEnteredBridge', (e) => e.bridge.id === st.bridge.id);
  await st.bridge.addChannel({ channel: st.channel.id });
  const [event] = await entered;
  check(event.channel.id === st.channel.id, 'entered ' + event.channel.id);
  const b = await st.ari.bridges.get({ bridgeId: st.bridge.id });
  check(b.channels.indexOf(st.channel.id) >= 0, 'bridge channels ' + b.channels);
  const left = waitEvent(st.ari, 'ChannelLeftBridge', (e) => e.bridge.id === st.bridge.id);
  await st.bridge.removeChannel({ channel: st.channel.id });
  await left;
});

step('record, then list, get and delete the stored recording', async () => {
  const name = 'suite-' + Date.now();
  const rec = st.ari.LiveRecording(name);
  const started = waitEvent(st.ari, 'RecordingStarted', (e) => e.recording.name === name);
  const finished = waitEvent(st.ari, 'RecordingFinished', (e) => e.recording.name === name);
  await st.channel.record({ name, format: 'wav', maxDurationSeconds: 1 }, rec);
  await started;
  await finished;
  const stored = await st.ari.recordings.listStored();
  check(stored.some((r) => r.name === name), name + ' not stored: ' + stored.map((r) => r.name));
  const one = await st.ari.recordings.getStored({ recordingName: name });
  check(one.format === 'wav', 'format ' + one.format);
  await st.ari.recordings.deleteStored({ recordingName: name });
  const after = await st.ari.recordings.listStored();
  check(!after.some((r) => r.name === name), name + ' still stored');
});

step('channel variables', async () => {
  await st.channel.setChannelVar({ variable: 'SUITE', value: 'yes' });
  const v = await st.channel.getChannelVar({ variable: 'SUITE' });
  check(v.value === 'yes', 'value ' + JSON.stringify(v));
  let missing = null;
  try {
    await st.channel.getChannelVar({ variable: 'NOPE' });
  } catch (err) {
    missing = err;
  }
  check(missing, 'a missing variable did not fail');
});

step('DTMF reaches the far end of the Local pair', async () => {
  const far = st.channel.id + ';2';
  await st.ari.applications.subscribe({ applicationName: APP, eventSource: 'channel:' + far });
  const digits = [];
  const got = new Promise((resolve) => {
    st.ari.on('ChannelDtmfReceived', function on(e) {
      if (e.channel.id === far) {
        digits.push(e.digit);
        if (digits.length === 2) {
          st.ari.removeListener('ChannelDtmfReceived', on);
          resolve();
        }
      }
    });
  });
  await st.channel.sendDTMF({ dtmf: '12' });
  await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('digits ' + digits)), TIMEOUT))]);
  check(digits.join('') === '12', 'digits ' + digits.join(''));
});

step('hangup: StasisEnd, then ChannelDestroyed', async () => {
  const order = [];
  const end = waitEvent(st.ari, 'StasisEnd', onChannel(st.channel.id)).then(() => order.push('StasisEnd'));
  const destroyed = waitEvent(st.ari, 'ChannelDestroyed', onChannel(st.channel.id)).then(() => order.push('ChannelDestroyed'));
  await st.channel.hangup();
  await Promise.all([end, destroyed]);
  check(order.join() === 'StasisEnd,ChannelDestroyed', 'order ' + order.join());
  let gone = null;
  try {
    await st.ari.channels.get({ channelId: st.channel.id });
  } catch (err) {
    gone = err;
  }
  check(gone, 'channel still there after hangup');
});

step('destroy the bridge and stop', async () => {
  await st.bridge.destroy();
  await eventually(() => bridgeGone(st.ari, st.bridge.id), 'bridge still listed');
  await st.ari.stop();
});

// --- the package's examples -------------------------------------------
//
// asterisk/node-ari-client ships examples/originate.js and
// examples/bridge.js in its repository but not in the npm tarball, so
// their flows are written again here, behaviour for behaviour, with this
// server's URL and credentials and (there being no SIP stack) a Local
// endpoint; the application names are the examples' own. The driver
// places the inbound call their dialplan comment expects and hangs it up
// at the end; the application's listeners do everything else, and the
// suite only observes.

// originate example: the incoming channel is answered, hears vm-dialout
// while an outgoing call is originated into the same application with
// the argument "dialed", and both are joined in a mixing bridge once the
// outgoing one is answered. When the incoming channel leaves Stasis the
// outgoing one is hung up; when the outgoing one leaves, the bridge is
// destroyed; when it is destroyed, the incoming one is hung up.
function originateExample(ari, endpoint) {
  ari.once('StasisStart', (event, incoming) => {
    incoming.answer(() => dialOut(incoming));
  });
  function dialOut(incoming) {
    const outgoing = ari.Channel();
    incoming.on('StasisEnd', () => outgoing.hangup(() => {}));
    outgoing.on('ChannelDestroyed', () => incoming.hangup(() => {}));
    outgoing.on('StasisStart', (event, dialed) => {
      const mixing = ari.Bridge();
      dialed.on('StasisEnd', () => mixing.destroy(() => {}));
      dialed.answer(() => {
        mixing.create({ type: 'mixing' }, (err, created) => {
          created.addChannel({ channel: [incoming.id, dialed.id] }, () => {});
        });
      });
    });
    incoming.play({ media: 'sound:vm-dialout' }, ari.Playback(), () => {});
    outgoing.originate({ endpoint, app: 'originate-example', appArgs: 'dialed' }, () => {});
  }
  return ari.start('originate-example');
}

// bridge example: every incoming channel is answered and joins the
// holding bridge, found in the bridge list or created (with a listener
// that destroys it once a ChannelLeftBridge shows it empty), then music
// on hold starts on the channel.
function bridgeExample(ari) {
  ari.on('StasisStart', (event, incoming) => {
    incoming.answer(() => holdingBridge(incoming));
  });
  function holdingBridge(channel) {
    ari.bridges.list((err, bridges) => {
      const found = bridges.filter((b) => b.bridge_type === 'holding').pop();
      if (found) {
        joinWithMoh(found, channel);
        return;
      }
      ari.Bridge().create({ type: 'holding' }, (err, created) => {
        created.on('ChannelLeftBridge', (event, instances) => {
          if (instances.bridge.id === created.id && instances.bridge.channels.length === 0) {
            created.destroy(() => {});
          }
        });
        joinWithMoh(created, channel);
      });
    });
  }
  function joinWithMoh(bridge, channel) {
    bridge.addChannel({ channel: channel.id }, () => channel.startMoh(() => {}));
  }
  return ari.start('bridge-example');
}

step('example originate: incoming and outgoing calls bridged, then torn down', async () => {
  const ari = await client.connect(url, user, pass);
  const incoming = waitEvent(ari, 'StasisStart', (e) => e.args.length === 0);
  const joined = new Set();
  let bridgeID = null;
  const both = new Promise((resolve) => {
    ari.on('ChannelEnteredBridge', (e) => {
      bridgeID = e.bridge.id;
      joined.add(e.channel.id);
      if (joined.size === 2) {
        resolve();
      }
    });
  });
  await originateExample(ari, 'Local/echo@default');
  console.log('inbound originate-example');
  const [start] = await incoming;
  const incomingID = start.channel.id;
  await Promise.race([both, new Promise((_, rej) => setTimeout(() => rej(new Error('bridged: ' + [...joined])), TIMEOUT))]);
  const bridge = await ari.bridges.get({ bridgeId: bridgeID });
  check(bridge.bridge_type === 'mixing' && bridge.channels.length === 2, 'bridge ' + bridge.bridge_type + ' ' + bridge.channels);
  const outgoingID = [...joined].find((id) => id !== incomingID);
  check(outgoingID, 'no outgoing channel in ' + [...joined]);
  const outgoingGone = waitEvent(ari, 'ChannelDestroyed', onChannel(outgoingID));
  await ari.channels.hangup({ channelId: incomingID });
  await outgoingGone;
  await eventually(() => bridgeGone(ari, bridgeID), 'bridge ' + bridgeID + ' not destroyed');
  await ari.stop();
});

step('example bridge: holding bridge with music on hold, destroyed when empty', async () => {
  const ari = await client.connect(url, user, pass);
  const entered = waitEvent(ari, 'ChannelEnteredBridge', null);
  await bridgeExample(ari);
  console.log('inbound bridge-example');
  const [event] = await entered;
  check(event.bridge.bridge_type === 'holding', 'bridge type ' + event.bridge.bridge_type);
  const bridgeID = event.bridge.id;
  await ari.channels.hangup({ channelId: event.channel.id });
  await eventually(() => bridgeGone(ari, bridgeID), 'holding bridge ' + bridgeID + ' not destroyed');
  await ari.stop();
});

(async () => {
  let passed = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    try {
      await s.fn();
      passed++;
      console.log('ok ' + (i + 1) + ' ' + s.name);
    } catch (err) {
      console.log('not ok ' + (i + 1) + ' ' + s.name + ': ' + (err && (err.message || JSON.stringify(err))));
    }
  }
  console.log('ari-client: ' + passed + '/' + steps.length);
  process.exit(passed === steps.length ? 0 : 1);
})();
