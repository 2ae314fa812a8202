import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { Principal } from '../auth/principal.js';
import type { OperatorConfig } from '../config/schema.js';
import type { Denial } from './denial.js';

/** A feature rate applied to a request (`x-tollgate-feature`): its name and token multiplier. */
export interface FeatureRate {
  name: string;
  multiplier: number;
}

/**
 * What the middleware hands to the handlers after it (hono context variables). Each is set by the
 * middleware named, and read only on routes that run it.
 */
export interface AppVariables {
  /** The caller a company key or user token resolved to (bearer-auth). */
  principal: Principal;
  /** The operator an operator key resolved to (operator-auth); undefined for any other credential. */
  operator: OperatorConfig | undefined;
}

/** The app's hono environment: Node's request and response as bindings, and the variables above. */
export interface AppEnv {
  Bindings: HttpBindings;
  Variables: AppVariables;
}

/** The context every handler and middleware of the app receives. */
export type AppContext = Context<AppEnv>;

/** Answers a middleware's denial (default `answerDenial`: the OpenAI-shaped error only). */
export type OnDenied = (c: AppContext, denial: Denial) => Response;

/**
 * A request header, read from Node's `IncomingMessage` when the app runs on @hono/node-server (no
 * web `Headers` object is built for it), else from the web request (tests with `app.request`). The first value when a header was sent more than once.
 */
export function requestHeader(c: AppContext, name: string): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (!incoming) return c.req.header(name);
  const v = incoming.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
