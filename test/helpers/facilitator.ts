// An offline x402 facilitator for tests: the real `x402Facilitator` with @x402/evm's exact
// (EIP-3009) scheme, served by fastify on 127.0.0.1:0, over a fake chain that holds one
// USDC-like token in memory. Nothing here reaches a network beyond loopback — no RPC, no public
// facilitator — yet signatures are really checked (viem), nonces are really spent and balances
// really move, so a paid tool can be tested end to end: a settled payment, a replay, a forged or
// expired authorization, an unreachable or slow facilitator.
//
// The fake chain answers at the calldata level, like a node: `readContract` and `writeContract`
// encode the call with the caller's ABI and the token decodes it with its own, so whatever the
// scheme reads (balanceOf, name, version, authorizationState, a Multicall3 `tryAggregate` of
// them, an eth_call simulation of transferWithAuthorization) is answered the way a node would.

import { setTimeout as sleep } from 'node:timers/promises';
import { x402Client } from '@x402/core/client';
import { x402Facilitator } from '@x402/core/facilitator';
import type { Network, PaymentPayload, PaymentRequired, PaymentRequirements } from '@x402/core/types';
import { authorizationTypes, toClientEvmSigner, toFacilitatorEvmSigner, type ExactEIP3009Payload } from '@x402/evm';
import { registerExactEvmScheme as registerExactEvmClientScheme } from '@x402/evm/exact/client';
import { ExactEvmScheme as ExactEvmFacilitatorScheme } from '@x402/evm/exact/facilitator';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  concat,
  decodeFunctionData,
  decodeFunctionResult,
  encodeAbiParameters,
  encodeEventTopics,
  encodeFunctionData,
  encodeFunctionResult,
  getAddress,
  keccak256,
  parseAbi,
  serializeSignature,
  toHex,
  verifyTypedData,
  type Abi,
  type Address,
  type Hex,
  type Log,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';

/** CAIP-2 id of Base Sepolia, the only network the harness serves. */
export const BASE_SEPOLIA: Network = 'eip155:84532';
export const BASE_SEPOLIA_CHAIN_ID = 84532;
/** Circle's USDC on Base Sepolia: the default token, with its real EIP-712 domain (`USDC`, `2`). */
export const BASE_SEPOLIA_USDC: Address = '0x036CbD53842c5426634e7929541eC2318f3dCF7e';
/** Where Multicall3 lives on every EVM chain; the scheme batches its diagnostic reads through it. */
const MULTICALL3: Address = '0xcA11bde05977b3631167028862bE2a173976CA11';
/** Any non-empty bytecode: the scheme only asks whether the token is a contract. */
const SOME_BYTECODE: Hex = '0x6080604052';

const TOKEN_ABI = parseAbi([
  'function name() view returns (string)',
  'function version() view returns (string)',
  'function decimals() view returns (uint8)',
  'function balanceOf(address account) view returns (uint256)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
  'event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)',
]);
const MULTICALL3_ABI = parseAbi([
  'struct Call { address target; bytes callData; }',
  'struct Result { bool success; bytes returnData; }',
  'function tryAggregate(bool requireSuccess, Call[] calls) payable returns (Result[] returnData)',
]);

/** A revert, with the reason string USDC's FiatTokenV2 uses, so the scheme's error parser maps it as it would on chain. */
class Revert extends Error {
  constructor(readonly reason: string) {
    super(`execution reverted: ${reason}`);
    this.name = 'ContractFunctionRevertedError';
  }
}

/** One `transferWithAuthorization` the fake chain executed. */
export interface SettledTransfer {
  transaction: Hex;
  network: Network;
  asset: Address;
  from: Address;
  to: Address;
  value: bigint;
  nonce: Hex;
  validAfter: bigint;
  validBefore: bigint;
}

interface Receipt {
  status: 'success' | 'reverted';
  transactionHash: Hex;
  blockNumber: bigint;
  logs: Log[];
}

interface TokenDomain {
  address: Address;
  name: string;
  version: string;
  chainId: number;
}

/**
 * The chain: one EIP-3009 token plus Multicall3, executed in memory. Every transaction runs to
 * completion before the next one starts (no await between its checks and its writes), as blocks
 * serialise transactions, so two settles racing for the same nonce cannot both pass.
 */
class FakeChain {
  readonly balances = new Map<Address, bigint>();
  readonly usedNonces = new Set<string>();
  readonly transfers: SettledTransfer[] = [];
  private readonly receipts = new Map<Hex, Receipt>();
  private blockNumber = 1n;

  constructor(
    readonly token: TokenDomain,
    readonly network: Network,
    /** Block time, unix seconds. */
    private readonly clock: () => number,
  ) {}

  balanceOf(address: Address): bigint {
    return this.balances.get(getAddress(address)) ?? 0n;
  }

  fund(address: Address, amount: bigint): void {
    this.balances.set(getAddress(address), this.balanceOf(address) + amount);
  }

  isNonceUsed(from: Address, nonce: Hex): boolean {
    return this.usedNonces.has(nonceKey(from, nonce));
  }

  getCode(address: Address): Hex | undefined {
    const a = getAddress(address);
    // viem answers `undefined` for an account without code; the scheme reads that as an EOA.
    return a === this.token.address || a === MULTICALL3 ? SOME_BYTECODE : undefined;
  }

  /** eth_call: runs `data` against `to` and throws a Revert, changing nothing. */
  async call(to: Address, data: Hex): Promise<Hex> {
    const target = getAddress(to);
    if (target === MULTICALL3) return this.multicall(data);
    if (target === this.token.address) return this.tokenCall(data);
    return '0x'; // a call to an account without code succeeds with no return data
  }

  /** eth_sendTransaction + mining: executes `data` against the token and returns the transaction hash. */
  async send(to: Address, data: Hex): Promise<Hex> {
    if (getAddress(to) !== this.token.address) throw new Error(`fake chain: no contract at ${to} accepts transactions`);
    const hash = keccak256(concat([toHex(this.blockNumber, { size: 32 }), data]));
    await this.tokenCall(data, hash);
    return hash;
  }

  async receipt(hash: Hex): Promise<Receipt> {
    const receipt = this.receipts.get(hash);
    // A real client would poll until its timeout; an unknown hash here can only be a harness bug.
    if (!receipt) throw new Error(`fake chain: no transaction ${hash}`);
    return receipt;
  }

  private async multicall(data: Hex): Promise<Hex> {
    const { args } = decodeFunctionData({ abi: MULTICALL3_ABI, data });
    const [requireSuccess, calls] = args;
    const results: { success: boolean; returnData: Hex }[] = [];
    for (const c of calls) {
      try {
        results.push({ success: true, returnData: await this.call(c.target, c.callData) });
      } catch (error) {
        if (requireSuccess || !(error instanceof Revert)) throw error;
        results.push({ success: false, returnData: '0x' });
      }
    }
    return encodeFunctionResult({ abi: MULTICALL3_ABI, functionName: 'tryAggregate', result: results });
  }

  /** The token's ABI surface: an eth_call (a simulation) without `tx`, a mined transaction with its hash. */
  private async tokenCall(data: Hex, tx?: Hex): Promise<Hex> {
    let decoded;
    try {
      decoded = decodeFunctionData({ abi: TOKEN_ABI, data });
    } catch {
      throw new Revert('function selector was not recognized');
    }
    // One encoder for every view: viem's types tie `result` to a literal functionName, which a switch cannot give it.
    const result = (value: unknown) => encodeFunctionResult({ abi: TOKEN_ABI, functionName: decoded.functionName, result: value } as never);
    switch (decoded.functionName) {
      case 'name':
        return result(this.token.name);
      case 'version':
        return result(this.token.version);
      case 'decimals':
        return result(6);
      case 'balanceOf':
        return result(this.balanceOf(decoded.args[0]));
      case 'authorizationState':
        return result(this.isNonceUsed(decoded.args[0], decoded.args[1]));
      case 'transferWithAuthorization': {
        const a = decoded.args;
        const signature = a.length === 7 ? a[6] : vrsSignature(a[6], a[7], a[8]);
        const auth = { from: a[0], to: a[1], value: a[2], validAfter: a[3], validBefore: a[4], nonce: a[5] };
        this.requireUsable(auth);
        const domain = { name: this.token.name, version: this.token.version, chainId: this.token.chainId, verifyingContract: this.token.address };
        let valid = false;
        try {
          valid = signature !== undefined && (await verifyTypedData({ address: auth.from, domain, types: authorizationTypes, primaryType: 'TransferWithAuthorization', message: auth, signature }));
        } catch {
          valid = false;
        }
        if (!valid) throw new Revert('FiatTokenV2: invalid signature');
        // Again, after the await: a racing transaction may have spent the nonce or the balance meanwhile.
        this.requireUsable(auth);
        if (tx !== undefined) this.transfer(auth, tx);
        return '0x';
      }
    }
  }

  /** FiatTokenV2's `_requireValidAuthorization` plus the balance check of `_transfer`. */
  private requireUsable(auth: { from: Address; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex }): void {
    const now = BigInt(Math.floor(this.clock()));
    if (now <= auth.validAfter) throw new Revert('FiatTokenV2: authorization is not yet valid');
    if (now >= auth.validBefore) throw new Revert('FiatTokenV2: authorization is expired');
    if (this.isNonceUsed(auth.from, auth.nonce)) throw new Revert('FiatTokenV2: authorization is used or canceled');
    if (this.balanceOf(auth.from) < auth.value) throw new Revert('ERC20: transfer amount exceeds balance');
  }

  private transfer(auth: { from: Address; to: Address; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex }, hash: Hex): void {
    const from = getAddress(auth.from);
    const to = getAddress(auth.to);
    this.usedNonces.add(nonceKey(from, auth.nonce));
    this.balances.set(from, this.balanceOf(from) - auth.value);
    this.balances.set(to, this.balanceOf(to) + auth.value);
    this.transfers.push({ transaction: hash, network: this.network, asset: this.token.address, from, to, value: auth.value, nonce: auth.nonce, validAfter: auth.validAfter, validBefore: auth.validBefore });
    const blockNumber = this.blockNumber++;
    const log = (logIndex: number, topics: readonly unknown[], data: Hex): Log => ({
      address: this.token.address,
      topics: topics as Log['topics'],
      data,
      blockHash: keccak256(toHex(blockNumber, { size: 32 })),
      blockNumber,
      logIndex,
      transactionHash: hash,
      transactionIndex: 0,
      removed: false,
    });
    // The scheme checks the receipt for the Transfer event it expects, so emit what USDC emits.
    const logs = [
      log(0, encodeEventTopics({ abi: TOKEN_ABI, eventName: 'AuthorizationUsed', args: { authorizer: from, nonce: auth.nonce } }), '0x'),
      log(1, encodeEventTopics({ abi: TOKEN_ABI, eventName: 'Transfer', args: { from, to } }), encodeAbiParameters([{ type: 'uint256' }], [auth.value])),
    ];
    this.receipts.set(hash, { status: 'success', transactionHash: hash, blockNumber, logs });
  }
}

function nonceKey(from: Address, nonce: Hex): string {
  return `${getAddress(from)}:${nonce.toLowerCase()}`;
}

/** The `bytes` form of a (v, r, s) signature; undefined for a v that ecrecover rejects (USDC wants 27 or 28). */
function vrsSignature(v: number, r: Hex, s: Hex): Hex | undefined {
  if (v !== 27 && v !== 28) return undefined;
  return serializeSignature({ r, s, v: BigInt(v) });
}

export interface TestFacilitatorOptions {
  /** Token contract address (default Base Sepolia USDC). */
  token?: Address;
  /** EIP-712 domain name the token signs under (default `USDC`). */
  tokenName?: string;
  /** EIP-712 domain version (default `2`). */
  tokenVersion?: string;
  /**
   * Block time in unix seconds (default the real clock). It governs only the token's own
   * validAfter/validBefore checks: the scheme's verify reads `Date.now()` itself.
   */
  clock?: () => number;
}

export interface FacilitatorRequestCounts {
  verify: number;
  settle: number;
  supported: number;
}

/**
 * How a down facilitator looks to a client: `reset` destroys the connection without an answer
 * (fetch rejects with `TypeError: fetch failed`), `503` answers 503 with a plain-text body.
 */
export type DownMode = 'reset' | '503';

export interface TestFacilitator {
  /** Base URL, e.g. `http://127.0.0.1:54321`; the routes are `/verify`, `/settle`, `/supported`. */
  readonly url: string;
  readonly network: Network;
  /** The token's address and EIP-712 domain, as payment requirements must state them. */
  readonly token: Readonly<TokenDomain>;
  /** The address the facilitator settles from (advertised in `/supported` signers). */
  readonly facilitatorAddress: Address;
  /** Mints `amount` atomic units of the token to `address`. */
  fund(address: Address, amount: bigint): void;
  balanceOf(address: Address): bigint;
  /** Whether the token's `authorizationState(from, nonce)` says the authorization was spent. */
  isNonceUsed(from: Address, nonce: Hex): boolean;
  /** Every transfer the chain executed, in order (live view). */
  readonly settled: readonly SettledTransfer[];
  /** Requests that reached the harness, per route, including those answered while down (live view). */
  readonly requests: Readonly<FacilitatorRequestCounts>;
  /** While down, every request is refused as `mode` says (default `reset`). */
  setDown(down: boolean, mode?: DownMode): void;
  /** While set, /settle answers 200 `{ success: false, errorReason: reason }` and the chain is not touched. */
  setSettleFailure(reason: string | null): void;
  /**
   * Holds every /settle answer back by `ms` after the settlement was executed — the payer is
   * charged even if the client times out first, the indeterminate outcome a timeout means.
   */
  setSettleDelayMs(ms: number): void;
  close(): Promise<void>;
}

/** The request body of /verify and /settle (x402 v2 facilitator API). */
interface FacilitatorRequestBody {
  x402Version?: number;
  paymentPayload?: PaymentPayload;
  paymentRequirements?: PaymentRequirements;
}

/**
 * Starts the harness. Answers follow the x402 reference facilitator: 200 with the
 * VerifyResponse / SettleResponse whatever its outcome (an invalid payment is not an HTTP error),
 * 400 for a body without `paymentPayload` and `paymentRequirements`, 500 `{ error }` when the
 * facilitator throws (e.g. an unregistered scheme or network).
 */
export async function startTestFacilitator(options: TestFacilitatorOptions = {}): Promise<TestFacilitator> {
  const token: TokenDomain = {
    address: getAddress(options.token ?? BASE_SEPOLIA_USDC),
    name: options.tokenName ?? 'USDC',
    version: options.tokenVersion ?? '2',
    chainId: BASE_SEPOLIA_CHAIN_ID,
  };
  const chain = new FakeChain(token, BASE_SEPOLIA, options.clock ?? (() => Date.now() / 1000));
  const facilitatorAddress = privateKeyToAccount(generatePrivateKey()).address;

  const signer = toFacilitatorEvmSigner({
    address: facilitatorAddress,
    getCode: async ({ address }) => chain.getCode(address),
    readContract: async ({ address, abi, functionName, args }) => {
      const call = { abi: abi as Abi, functionName, args } as Parameters<typeof encodeFunctionData>[0];
      const data = await chain.call(address, encodeFunctionData(call));
      return decodeFunctionResult({ abi: abi as Abi, functionName, args, data } as Parameters<typeof decodeFunctionResult>[0]);
    },
    writeContract: async ({ address, abi, functionName, args, dataSuffix }) => {
      const data = encodeFunctionData({ abi: abi as Abi, functionName, args } as Parameters<typeof encodeFunctionData>[0]);
      return chain.send(address, dataSuffix ? concat([data, dataSuffix]) : data);
    },
    // The scheme recovers EOA signatures itself; this is here for the signer contract, and checks for real.
    verifyTypedData: async (args) => {
      try {
        return await verifyTypedData(args as Parameters<typeof verifyTypedData>[0]);
      } catch {
        return false;
      }
    },
    sendTransaction: async () => {
      throw new Error('fake chain: deploying contracts (ERC-6492 smart wallets) is not supported');
    },
    waitForTransactionReceipt: async ({ hash }) => chain.receipt(hash),
  });

  // The scheme class, not registerExactEvmScheme: that would also register v1 on every EVM
  // network, and /supported would advertise chains this fake cannot settle on.
  const facilitator = new x402Facilitator().register(BASE_SEPOLIA, new ExactEvmFacilitatorScheme(signer));

  const requests: FacilitatorRequestCounts = { verify: 0, settle: 0, supported: 0 };
  let down: DownMode | null = null;
  let settleFailure: string | null = null;
  let settleDelayMs = 0;
  const closing = new AbortController();

  // forceCloseConnections: close() must not wait for a held-back /settle or a keep-alive socket.
  const app = Fastify({ logger: false, forceCloseConnections: true });

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.url.split('?')[0].replace(/^\//, '');
    if (route === 'verify' || route === 'settle' || route === 'supported') requests[route]++;
    if (down === 'reset') {
      reply.hijack();
      request.raw.socket.destroy();
      return reply;
    }
    if (down === '503') return reply.code(503).type('text/plain').send('facilitator unavailable');
  });

  const parseBody = (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body as FacilitatorRequestBody | null;
    if (!body || typeof body.paymentPayload !== 'object' || typeof body.paymentRequirements !== 'object' || !body.paymentPayload || !body.paymentRequirements) {
      void reply.code(400).send({ error: 'Missing paymentPayload or paymentRequirements' });
      return undefined;
    }
    return { paymentPayload: body.paymentPayload, paymentRequirements: body.paymentRequirements };
  };
  const internalError = (reply: FastifyReply, error: unknown) => reply.code(500).send({ error: error instanceof Error ? error.message : String(error) });

  app.post('/verify', async (request, reply) => {
    const body = parseBody(request, reply);
    if (!body) return reply;
    try {
      return await facilitator.verify(body.paymentPayload, body.paymentRequirements);
    } catch (error) {
      return internalError(reply, error);
    }
  });

  app.post('/settle', async (request, reply) => {
    const body = parseBody(request, reply);
    if (!body) return reply;
    let result;
    if (settleFailure !== null) {
      const auth = (body.paymentPayload.payload as Partial<ExactEIP3009Payload> | undefined)?.authorization;
      result = { success: false, errorReason: settleFailure, transaction: '', network: body.paymentRequirements.network, payer: auth?.from };
    } else {
      try {
        result = await facilitator.settle(body.paymentPayload, body.paymentRequirements);
      } catch (error) {
        return internalError(reply, error);
      }
    }
    if (settleDelayMs > 0) await sleep(settleDelayMs, undefined, { signal: closing.signal }).catch(() => {});
    return result;
  });

  app.get('/supported', async () => facilitator.getSupported());

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('facilitator harness: no TCP address');

  return {
    url: `http://127.0.0.1:${address.port}`,
    network: BASE_SEPOLIA,
    token,
    facilitatorAddress,
    fund: (a, amount) => chain.fund(a, amount),
    balanceOf: (a) => chain.balanceOf(a),
    isNonceUsed: (from, nonce) => chain.isNonceUsed(from, nonce),
    settled: chain.transfers,
    requests,
    setDown: (isDown, mode = 'reset') => {
      down = isDown ? mode : null;
    },
    setSettleFailure: (reason) => {
      settleFailure = reason;
    },
    setSettleDelayMs: (ms) => {
      settleDelayMs = ms;
    },
    close: async () => {
      closing.abort();
      await app.close();
    },
  };
}

export interface SignPaymentOptions {
  /** The payer's key (e.g. from viem's `generatePrivateKey()`). */
  privateKey: Hex;
  /** The 402 answer to pay; its `resource` and `extensions` are echoed as a real client would. */
  paymentRequired: PaymentRequired;
  /** Which of `paymentRequired.accepts` to pay (default 0). */
  acceptedIndex?: number;
  /**
   * Sign as if the payer's clock read `now` (unix seconds): validBefore = now + maxTimeoutSeconds,
   * the window the exact scheme's client computes. A `now` in the past gives an expired authorization.
   */
  now?: number;
  /** Explicit window bounds (unix seconds), over `now`; a validAfter in the future gives a not-yet-valid one. */
  validAfter?: bigint;
  validBefore?: bigint;
}

/**
 * A PaymentPayload carrying a real EIP-3009 authorization, made by `x402Client` with @x402/evm's
 * exact client scheme over a viem `privateKeyToAccount` signer. Spend controls are off: the test
 * decides what the payer pays, whatever the token.
 *
 * With `now`, `validAfter` or `validBefore`, the library's payload (same nonce, same
 * requirements) is re-signed with viem's `signTypedData` over the EIP-3009
 * `TransferWithAuthorization` types and the chosen window, because the library takes its clock
 * from `Date.now()` and fixes validAfter at 0.
 */
export async function signPayment(options: SignPaymentOptions): Promise<PaymentPayload> {
  const account = privateKeyToAccount(options.privateKey);
  const accepted = options.paymentRequired.accepts[options.acceptedIndex ?? 0];
  if (!accepted) throw new Error(`signPayment: no accepts[${options.acceptedIndex ?? 0}]`);

  const client = new x402Client().setSpendControls(false);
  registerExactEvmClientScheme(client, { signer: toClientEvmSigner(account), networks: [accepted.network] });
  const payload = await client.createPaymentPayload({ ...options.paymentRequired, accepts: [accepted] });
  if (options.now === undefined && options.validAfter === undefined && options.validBefore === undefined) return payload;

  const { authorization } = payload.payload as ExactEIP3009Payload;
  const validAfter = options.validAfter ?? BigInt(authorization.validAfter);
  const validBefore = options.validBefore ?? (options.now !== undefined ? BigInt(Math.floor(options.now) + accepted.maxTimeoutSeconds) : BigInt(authorization.validBefore));
  const message = {
    from: getAddress(authorization.from),
    to: getAddress(authorization.to),
    value: BigInt(authorization.value),
    validAfter,
    validBefore,
    nonce: authorization.nonce,
  };
  const signature = await account.signTypedData({
    domain: {
      name: String(accepted.extra.name),
      version: String(accepted.extra.version),
      chainId: Number(accepted.network.split(':')[1]),
      verifyingContract: getAddress(accepted.asset),
    },
    types: authorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message,
  });
  const resigned: ExactEIP3009Payload = {
    signature,
    authorization: { ...authorization, validAfter: validAfter.toString(), validBefore: validBefore.toString() },
  };
  return { ...payload, payload: resigned };
}
