import type { KubeClient, KubeError, KubeRequest } from "@kubenode/kube";

/** One request the fake received. */
export interface FakeCall {
  method: string;
  path: string;
  body?: unknown;
  contentType?: string | undefined;
  /** When it was made, by the fake's `now`. */
  atMs: number;
}

export interface FakeKubeClientOptions {
  /** Answers a request that is not failed by `setDown` or `inject`; throw `statusError(...)` to fail it. */
  handle(req: KubeRequest): unknown;
  /** Time of each recorded call; default `Date.now`. */
  now?: (() => number) | undefined;
}

export interface FakeKubeClient {
  client: KubeClient;
  /** Every request, in order (clear with `calls.length = 0`). */
  calls: FakeCall[];
  /** Fails the next `times` requests with this method (default 1). */
  inject(method: string, error: KubeError, times?: number): void;
  /** While down, every request fails with a `Network` error. */
  setDown(down: boolean): void;
}

export function statusError(code: number, reason: string, message: string): KubeError;
export function createFakeKubeClient(options: FakeKubeClientOptions): FakeKubeClient;
