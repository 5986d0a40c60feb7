import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createNetServer, type Server } from 'node:net';
import { Authorizer } from './auth/authorize.ts';
import { authenticate } from './auth/credentials.ts';
import { Automations } from './core/automations.ts';
import { type SandboxOrigin, SLOT } from './core/clock.ts';
import { EmulatorContext, type EmulatorOptions } from './core/context.ts';
import { AwsError } from './core/errors.ts';
import type { FaultRule } from './core/faults.ts';
import { type Caller, EMULATOR_ADMIN_CREDENTIALS, parseSigV4 } from './core/identity.ts';
import { ec2Error, ec2Response, queryError, queryResponse, unflattenQuery } from './core/query.ts';
import type {
  EmulatedService,
  InventoryItem,
  JsonApi,
  OperationCall,
  QueryApi,
  RestJsonApi,
  RestRequest,
  RestResult,
  ServiceName,
} from './core/service.ts';
import { AccessAnalyzerService } from './services/access-analyzer.ts';
import { BedrockService } from './services/bedrock.ts';
import { Ec2Service } from './services/ec2.ts';
import { IamService } from './services/iam.ts';
import { SANDBOX_HEADER } from './services/lambda/protocol.ts';
import { LambdaService } from './services/lambda.ts';
import { StepFunctionsService } from './services/stepfunctions.ts';
import { StsService } from './services/sts.ts';

export interface StartOptions extends EmulatorOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
}

const ADMIN_PREFIX = '/_emulator/';

/** The local AWS: one HTTP endpoint on loopback serving every emulated service. */
export class Emulator {
  readonly ctx: EmulatorContext;
  readonly ec2: Ec2Service;
  readonly iam: IamService;
  readonly sts: StsService;
  readonly lambda: LambdaService;
  readonly bedrock: BedrockService;
  readonly states: StepFunctionsService;
  readonly accessAnalyzer: AccessAnalyzerService;
  private readonly services: Record<ServiceName, EmulatedService>;
  /** IAM authorization of every call, between the router and the services. */
  readonly authorizer: Authorizer;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  url = '';
  port = 0;

  constructor(opts: EmulatorOptions = {}) {
    this.ctx = new EmulatorContext(opts);
    this.ec2 = new Ec2Service(this.ctx);
    this.iam = new IamService(this.ctx);
    this.sts = new StsService(this.ctx);
    this.lambda = new LambdaService(this.ctx);
    this.bedrock = new BedrockService(this.ctx);
    this.states = new StepFunctionsService(this.ctx);
    this.accessAnalyzer = new AccessAnalyzerService();
    this.ctx.ec2 = this.ec2;
    this.ctx.iam = this.iam;
    this.ctx.lambda = this.lambda;
    this.services = {
      ec2: this.ec2,
      iam: this.iam,
      sts: this.sts,
      lambda: this.lambda,
      bedrock: this.bedrock,
      states: this.states,
      'access-analyzer': this.accessAnalyzer,
    };
    this.authorizer = new Authorizer(this.ctx, this.services);
    this.ctx.authorizeAsRole = (roleArn, service, action, arn, region) =>
      this.authorizer.asRole(roleArn, service, action, arn, region);
    this.automations = new Automations(
      () => this.ctx.world.automations,
      () => ({ ec2: this.ec2.api, iam: this.iam.api as QueryApi }),
      (region) => ({
        caller: this.ctx.identities.admin(),
        region,
        requestId: 'world-automation',
        headers: {},
      }),
    );
  }

  /** The account's automations (world.automations): another principal acting on new resources. */
  private readonly automations: Automations;

  static async start(opts: StartOptions = {}): Promise<Emulator> {
    const emu = new Emulator(opts);
    await emu.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
    return emu;
  }

  async listen(port: number, host: string): Promise<void> {
    await this.authorizer.warmUp();
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      // Each request is an actor on the clock: virtual time stands still while it is handled. A
      // request from a Lambda sandbox is marked HELD on that sandbox's slot until it is answered,
      // so the sandbox waiting on it counts as blocked (worker-time.ts), and it works for the
      // sandbox's run.
      const slot = this.ctx.clock.sandbox(Number(req.headers[SANDBOX_HEADER]));
      if (slot) Atomics.add(slot.i32, SLOT.HELD, 1);
      void this.ctx.clock.spawn(
        'http request',
        () =>
          this.handle(req, res)
            .catch((err) => {
              this.ctx.log({
                level: 'error',
                msg: 'unhandled emulator error',
                error: String(err?.stack ?? err),
              });
              if (!res.headersSent) res.writeHead(500).end();
            })
            .finally(() => {
              if (slot) Atomics.sub(slot.i32, SLOT.HELD, 1);
            }),
        slot?.runKey,
      );
    };
    const http1 = createServer(onRequest);
    http1.keepAliveTimeout = 5_000;
    // The Bedrock runtime client speaks HTTP/2 by default (prior knowledge on http://); AWS picks
    // the protocol per connection, so one port serves both, told apart by the HTTP/2 preface.
    const http2 = createHttp2Server(onRequest as unknown as Parameters<typeof createHttp2Server>[0]);
    const server = createNetServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        if (first.subarray(0, 3).toString('latin1') === 'PRI') {
          // The HTTP/2 session reads the socket itself, buffered preface included.
          http2.emit('connection', socket);
        } else {
          http1.emit('connection', socket);
          socket.resume();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.port = addr.port;
    this.url = `http://${host}:${addr.port}`;
    this.ctx.endpointUrl = this.url;
  }

  /** Every live resource of every service. */
  inventory(): InventoryItem[] {
    return Object.values(this.services).flatMap((s) => s.inventory());
  }

  /** Live resources that carry a tag (optionally with a value): what a run left behind. */
  leftovers(tagKey: string, tagValue?: string): InventoryItem[] {
    return this.inventory().filter(
      (i) => !i.builtIn && tagKey in i.tags && (tagValue === undefined || i.tags[tagKey] === tagValue),
    );
  }

  setFaults(rules: FaultRule[]): void {
    this.ctx.faults.set(rules);
  }

  reset(): void {
    for (const s of Object.values(this.services)) s.reset();
    this.ctx.identities.reset();
    this.ctx.faults.set([]);
  }

  /** SDK client settings that reach this emulator as the account admin. */
  clientConfig(region = 'us-east-1') {
    return {
      region,
      endpoint: this.url,
      credentials: { ...EMULATOR_ADMIN_CREDENTIALS },
    };
  }

  async close(): Promise<void> {
    for (const s of Object.values(this.services)) await (s as { close?: () => Promise<void> }).close?.();
    this.ctx.clock.close();
    if (!this.server) return;
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    // The Date header in simulated time: the SDK corrects its clock by it (skew over 5 minutes),
    // so a wall-clock Date would make a sandbox's signing time depend on how long the run took.
    const writeHead = res.writeHead;
    res.writeHead = ((...args: Parameters<typeof res.writeHead>) => {
      if (!res.headersSent) res.setHeader('date', new Date(this.ctx.now()).toUTCString());
      return writeHead.apply(res, args);
    }) as typeof res.writeHead;
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith(ADMIN_PREFIX)) return this.handleAdmin(req, res, url, body);

    const sig = parseSigV4(req.headers.authorization, url.searchParams);
    const serviceName = routeService(sig.service, req, url, body);
    const requestId = randomUUID();
    let caller: Caller | undefined;
    if (!serviceName) {
      return send(
        res,
        400,
        'application/json',
        JSON.stringify({ message: 'emulator: cannot tell which service this request is for' }),
      );
    }
    const service = this.services[serviceName];
    let operation = '?';
    let status = 200;
    try {
      caller = fromWhereItWasSent(
        await authenticate(this.ctx.identities, serviceName, {
          method: req.method ?? 'GET',
          rawUrl: req.url ?? '/',
          headers: req.headers,
          body,
        }),
        this.ctx.clock.sandbox(Number(req.headers[SANDBOX_HEADER]))?.origin,
      );
      const call: OperationCall = {
        caller,
        region: sig.region ?? 'us-east-1',
        requestId,
        headers: req.headers,
      };
      const api = service.api;
      if (api.protocol === 'ec2' || api.protocol === 'query') {
        const params = new URLSearchParams(body.toString('utf8'));
        for (const [k, v] of url.searchParams) if (!params.has(k)) params.set(k, v);
        operation = params.get('Action') ?? '';
        const result = await this.runOperation(serviceName, operation, api, unflattenQuery(params), call);
        const xmlBody =
          api.protocol === 'ec2'
            ? ec2Response(operation, requestId, (result ?? {}) as Record<string, any>)
            : queryResponse(operation, api.xmlns ?? '', requestId, (result ?? {}) as Record<string, any>);
        return send(res, 200, 'text/xml', xmlBody, { 'x-amzn-requestid': requestId });
      }
      if (api.protocol === 'json') {
        const target = String(req.headers['x-amz-target'] ?? '');
        operation = target.startsWith(`${api.targetPrefix}.`)
          ? target.slice(api.targetPrefix.length + 1)
          : target;
        const input = body.length ? JSON.parse(body.toString('utf8')) : {};
        const result = await this.runOperation(serviceName, operation, api, input, call);
        return send(res, 200, 'application/x-amz-json-1.0', JSON.stringify(result ?? {}), {
          'x-amzn-requestid': requestId,
        });
      }
      const match = matchRoute(api as RestJsonApi, req.method ?? 'GET', url.pathname);
      if (!match)
        throw new AwsError(
          'UnknownOperationException',
          `No operation for ${req.method} ${url.pathname}`,
          404,
        );
      operation = match.route.operation;
      const restReq = { params: match.params, query: url.searchParams, headers: req.headers, body };
      const result = (await this.runOperation(serviceName, operation, null, restReq, call, () =>
        match.route.handler(restReq, call),
      )) as RestResult;
      if ('holdMs' in result) {
        // A black hole: no answer; the connection is dropped after the hold (virtual time) unless
        // the client gives up first.
        status = 0;
        const gaveUp = new AbortController();
        res.on('close', () => gaveUp.abort());
        await this.ctx.clock.sleep(result.holdMs, gaveUp.signal).then(
          () => res.socket?.destroy(),
          () => {},
        );
        return;
      }
      status = result.status ?? 200;
      const headers: Record<string, string> = { 'x-amzn-requestid': requestId, ...result.headers };
      if (result.raw !== undefined)
        return send(res, status, headers['content-type'] ?? 'application/octet-stream', result.raw, headers);
      return send(
        res,
        status,
        'application/json',
        result.json === undefined ? '' : JSON.stringify(result.json),
        headers,
      );
    } catch (err) {
      const e =
        err instanceof AwsError
          ? err
          : new AwsError(
              serviceName === 'ec2' ? 'InternalError' : 'InternalFailure',
              'internal emulator error',
              500,
            );
      if (!(err instanceof AwsError)) {
        this.ctx.log({
          level: 'error',
          msg: 'operation crashed',
          service: serviceName,
          operation,
          error: String((err as Error)?.stack ?? err),
        });
      }
      status = e.status;
      return sendError(res, service.api, e, requestId);
    } finally {
      this.ctx.log({
        level: 'debug',
        service: serviceName,
        operation,
        status,
        caller: caller ? (caller.isAdmin ? 'admin' : caller.sessionArn) : 'refused',
        ms: Math.round((performance.now() - started) * 10) / 10,
      });
    }
  }

  private async runOperation(
    service: ServiceName,
    operation: string,
    api: QueryApi | JsonApi | null,
    input: Record<string, any> | RestRequest,
    call: OperationCall,
    restHandler?: () => unknown,
  ): Promise<unknown> {
    let fn: (() => unknown) | undefined = restHandler;
    if (api) {
      const op = api.operations[operation];
      if (!op) {
        const code = api.protocol === 'json' ? 'UnknownOperationException' : 'InvalidAction';
        throw new AwsError(code, `The action ${operation} is not valid for this web service.`, 400);
      }
      fn = () => op(input as Record<string, any>, call);
    }
    await this.authorizer.authorize(service, operation, input, call);
    const delay = this.ctx.faults.beforeOperation(service, operation);
    if (delay > 0) await this.ctx.clock.sleep(delay);
    const result = await fn!();
    if (api)
      await this.automations.after(service, operation, input as Record<string, any>, result, call.region);
    return result;
  }

  private async handleAdmin(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Buffer,
  ): Promise<void> {
    const path = url.pathname.slice(ADMIN_PREFIX.length);
    const json = (status: number, v: unknown) =>
      send(res, status, 'application/json', JSON.stringify(v, null, 2));
    if (path === 'health') return json(200, { ok: true, url: this.url, accountId: this.ctx.accountId });
    if (path === 'inventory') return json(200, { resources: this.inventory() });
    if (path === 'reset' && req.method === 'POST') {
      this.reset();
      return json(200, { ok: true });
    }
    if (path === 'sessions' && req.method === 'POST') {
      // Keys for a session of an existing role, as the emulator gives function sandboxes: how a
      // client outside the emulator (the boto3 conformance suite) acts as a non-root principal.
      const { roleName, sessionName } = body.length ? JSON.parse(body.toString('utf8')) : {};
      const role = typeof roleName === 'string' ? this.iam.role(roleName) : undefined;
      if (!role) return json(404, { message: `no role ${String(roleName)}` });
      const creds = this.ctx.identities.issueForRole(
        role.arn,
        role.roleName,
        String(sessionName ?? 'session'),
      );
      return json(200, creds);
    }
    if (path === 'config') {
      if (req.method === 'POST') {
        const patch = body.length ? JSON.parse(body.toString('utf8')) : {};
        if (patch.faults) this.ctx.faults.set(patch.faults);
        if (patch.quotas) this.ctx.quotas = { ...this.ctx.quotas, ...patch.quotas };
        if (patch.world) this.ctx.world = { ...this.ctx.world, ...patch.world };
      }
      return json(200, {
        profile: this.ctx.profile.name,
        timeScale: this.ctx.clock.timeScale,
        virtualNow: new Date(this.ctx.now()).toISOString(),
        quotas: this.ctx.quotas,
        world: this.ctx.world,
        faults: this.ctx.faults.list(),
        authorization: {
          authorizedActions: this.authorizer.authorizedActions,
          refusedActions: this.authorizer.refusedActions,
        },
      });
    }
    return json(404, { message: `unknown admin route ${url.pathname}` });
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(res: ServerResponse, api: EmulatedService['api'], e: AwsError, requestId: string): void {
  const h = { 'x-amzn-requestid': requestId };
  switch (api.protocol) {
    case 'ec2':
      send(res, e.status, 'text/xml', ec2Error(e.code, e.message, requestId), h);
      return;
    case 'query':
      send(res, e.status, 'text/xml', queryError(api.xmlns ?? '', e.code, e.message, e.status, requestId), h);
      return;
    case 'json':
      send(
        res,
        e.status,
        'application/x-amz-json-1.0',
        JSON.stringify({ __type: e.code, message: e.message, ...e.extra }),
        h,
      );
      return;
    default:
      send(
        res,
        e.status,
        'application/json',
        JSON.stringify({ message: e.message, Message: e.message, ...e.extra }),
        { ...h, 'x-amzn-errortype': e.code },
      );
  }
}

/** The signing name decides, as on AWS; unsigned requests are recognised by their shape. */
function routeService(
  signed: string | undefined,
  req: IncomingMessage,
  url: URL,
  body: Buffer,
): ServiceName | undefined {
  switch (signed) {
    case 'ec2':
    case 'iam':
    case 'sts':
    case 'lambda':
    case 'bedrock':
    case 'states':
    case 'access-analyzer':
      return signed;
  }
  const target = String(req.headers['x-amz-target'] ?? '');
  if (target.startsWith('AWSStepFunctions.')) return 'states';
  if (url.pathname.startsWith('/2015-03-31/') || url.pathname.startsWith('/2017-03-31/')) return 'lambda';
  if (url.pathname.startsWith('/model/') || url.pathname.startsWith('/foundation-models')) return 'bedrock';
  if (url.pathname === '/policy/validation') return 'access-analyzer';
  const version =
    new URLSearchParams(body.toString('utf8')).get('Version') ?? url.searchParams.get('Version');
  if (version === '2016-11-15') return 'ec2';
  if (version === '2010-05-08') return 'iam';
  if (version === '2011-06-15') return 'sts';
  return undefined;
}

function matchRoute(
  api: RestJsonApi,
  method: string,
  pathname: string,
): { route: RestJsonApi['routes'][number]; params: Record<string, string> } | undefined {
  for (const route of api.routes) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = route.path.replace(/\{(\w+)(\+?)\}/g, (_m, name: string, greedy: string) => {
      names.push(name);
      return greedy ? '(.+)' : '([^/]+)';
    });
    const m = new RegExp(`^${pattern}$`).exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    names.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1]!);
    });
    return { route, params };
  }
  return undefined;
}

/**
 * The caller's network is where the request was sent from, not who signed it: a request from a
 * Lambda sandbox leaves through that function's VPC ENIs (or from outside any VPC), whatever
 * credentials sign it. aws:SourceVpce and aws:SourceVpc describe the path a request took: they
 * are in the request context only when the requester makes the request through a VPC endpoint
 * (IAM User Guide, "AWS global condition context keys", Availability of aws:SourceVpce), so
 * credentials assumed by one function and used by another are judged from the second. Requests from outside any sandbox (tests, the CLI) keep
 * the network their key was issued with.
 */
function fromWhereItWasSent(caller: Caller, origin: SandboxOrigin | undefined): Caller {
  if (!origin) return caller;
  const { network: _keyNetwork, functionName: _keyFunction, ...who } = caller;
  return {
    ...who,
    functionName: origin.functionName,
    ...(origin.network ? { network: origin.network } : {}),
  };
}
