// The local x402 facilitator (the tests' harness: @x402/core's facilitator with @x402/evm's exact
// scheme over a fake chain) in a process of its own, for bench/x402.ts: a real facilitator runs
// elsewhere, and its signature checks must not share the event loop of the server being timed.
// Speaks over the IPC channel: sends {url} once listening; answers {fund: [address, amount]}.

import { startTestFacilitator } from '../test/helpers/facilitator.js';

const facilitator = await startTestFacilitator();
process.on('message', (message: { fund?: [string, string]; id: number }) => {
  if (message.fund !== undefined) facilitator.fund(message.fund[0] as `0x${string}`, BigInt(message.fund[1]));
  process.send?.({ id: message.id, ok: true, requests: facilitator.requests });
});
process.on('disconnect', () => void facilitator.close().then(() => process.exit(0)));
process.send?.({ url: facilitator.url });
