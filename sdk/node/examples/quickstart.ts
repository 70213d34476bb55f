import { AriProxy, type ChannelHandle } from "@ariproxy/sdk";

// `ari-proxy dev` prints MESSAGEBUS_URL and ARI_APPLICATION; the client
// reads them from the environment when the options leave them out.
const client = new AriProxy({ timeout: 10_000 });

const listener = await client.listen(async (call, event) => {
  if (event.args[0] === "conference") return; // our own outbound call, below
  try {
    await handle(call);
  } catch (err) {
    console.error("call failed:", err);
    process.exitCode = 1;
  }
  setImmediate(() => void listener.close().then(() => client.close()));
});
console.log(`waiting for a call to ${client.applicationName}`);

async function handle(call: ChannelHandle): Promise<void> {
  console.log(`call ${call.id} on ${call.node}`);
  await call.answer();
  console.log("answered");

  // Play a prompt and wait until it has played.
  const events = await call.subscribe({ types: ["PlaybackFinished"] });
  const prompt = await call.play({ media: "sound:demo-congrats" });
  await events.next({ type: "PlaybackFinished", timeout: 30_000 });
  await events.close();
  console.log(`played ${prompt.id}`);

  // Bridge the call with an outbound call, in a mixing bridge on the
  // call's Asterisk.
  const room = await client.conference.createSession({ name: `call ${call.id}`, node: call.node });
  await room.bridge.addChannel({ channel: call.id });
  const outbound = await client.conference.dial(room.sessionId, "Local/echo@default", { timeout: 30 });
  console.log(`bridged with ${outbound.id}`);

  // Record the conversation for a moment.
  const recording = await room.bridge.record({ name: `call-${call.id}`, format: "wav", ifExists: "overwrite" });
  await new Promise((resolve) => setTimeout(resolve, 500));
  await recording.stop();
  console.log(`recorded ${recording.id}`);

  // Hang up both and clean up.
  await outbound.channel.hangup();
  await call.hangup();
  await room.bridge.destroy();
  console.log("hung up");
}
