import type { Json, KubeObject } from "./types.js";

/**
 * events.k8s.io/v1 Event <-> core/v1 Event, the conversion kube-apiserver applies because both
 * APIs share one storage (mirrors pkg/apis/events/v1 conversion): regarding <-> involvedObject,
 * note <-> message, reportingController <-> reportingComponent, deprecated* <-> source, count and
 * first/last timestamps.
 */
export const eventsV1 = {
  /** Stored core/v1 shape -> events.k8s.io/v1 wire shape. */
  out(o: KubeObject): Json {
    const {
      metadata,
      involvedObject,
      message,
      reportingComponent,
      source,
      firstTimestamp,
      lastTimestamp,
      count,
      ...rest
    } = o;
    const e: Json = { metadata, ...rest };
    if (involvedObject !== undefined) e.regarding = involvedObject;
    if (message !== undefined) e.note = message;
    const controller = reportingComponent || source?.component;
    if (controller) e.reportingController = controller;
    if (!e.reportingInstance && source?.host) e.reportingInstance = source.host;
    if (source !== undefined) e.deprecatedSource = source;
    if (firstTimestamp !== undefined) e.deprecatedFirstTimestamp = firstTimestamp;
    if (lastTimestamp !== undefined) e.deprecatedLastTimestamp = lastTimestamp;
    if (count !== undefined) e.deprecatedCount = count;
    return e;
  },
  /** events.k8s.io/v1 wire shape -> stored core/v1 shape. */
  in(e: KubeObject): KubeObject {
    const {
      metadata,
      regarding,
      note,
      reportingController,
      deprecatedSource,
      deprecatedFirstTimestamp,
      deprecatedLastTimestamp,
      deprecatedCount,
      ...rest
    } = e;
    const o: KubeObject = { metadata, ...rest };
    if (regarding !== undefined) o.involvedObject = regarding;
    if (note !== undefined) o.message = note;
    if (reportingController !== undefined) o.reportingComponent = reportingController;
    const source =
      deprecatedSource ??
      (reportingController
        ? { component: reportingController, ...(e.reportingInstance ? { host: e.reportingInstance } : {}) }
        : undefined);
    if (source !== undefined) o.source = source;
    if (deprecatedFirstTimestamp !== undefined) o.firstTimestamp = deprecatedFirstTimestamp;
    if (deprecatedLastTimestamp !== undefined) o.lastTimestamp = deprecatedLastTimestamp;
    if (deprecatedCount !== undefined) o.count = deprecatedCount;
    return o;
  },
  /** Field selector labels of events.k8s.io map onto the stored core fields. */
  field(path: string): string {
    return path.startsWith("regarding.") ? `involvedObject.${path.slice("regarding.".length)}` : path;
  },
};
