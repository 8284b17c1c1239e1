/**
 * Structural input types: a subset of core/v1 Service and discovery/v1 EndpointSlice that
 * @kubernetes/client-node's V1Service and V1EndpointSlice satisfy, so no runtime import is needed.
 */
export interface ObjectMetaLike {
  name?: string | undefined;
  namespace?: string | undefined;
  uid?: string | undefined;
  labels?: { [key: string]: string } | undefined;
}

export interface ServicePortLike {
  name?: string | undefined;
  protocol?: string | undefined;
  port: number;
  targetPort?: number | string | object | undefined;
  nodePort?: number | undefined;
}

export interface ServiceLike {
  metadata?: ObjectMetaLike | undefined;
  spec?:
    | {
        type?: string | undefined;
        clusterIP?: string | undefined;
        clusterIPs?: string[] | undefined;
        ipFamilies?: string[] | undefined;
        ports?: ServicePortLike[] | undefined;
        externalIPs?: string[] | undefined;
        sessionAffinity?: string | undefined;
        sessionAffinityConfig?:
          | { clientIP?: { timeoutSeconds?: number | undefined } | undefined }
          | undefined;
        externalTrafficPolicy?: string | undefined;
        internalTrafficPolicy?: string | undefined;
        loadBalancerSourceRanges?: string[] | undefined;
        healthCheckNodePort?: number | undefined;
      }
    | undefined;
  status?:
    | {
        loadBalancer?:
          | { ingress?: { ip?: string | undefined; ipMode?: string | undefined }[] | undefined }
          | undefined;
      }
    | undefined;
}

export interface EndpointLike {
  addresses: string[];
  conditions?:
    | { ready?: boolean | undefined; serving?: boolean | undefined; terminating?: boolean | undefined }
    | undefined;
  nodeName?: string | undefined;
  zone?: string | undefined;
  hints?:
    | {
        forZones?: { name: string }[] | undefined;
        forNodes?: { name: string }[] | undefined;
      }
    | undefined;
}

export interface EndpointSliceLike {
  metadata?: ObjectMetaLike | undefined;
  addressType: string;
  endpoints?: EndpointLike[] | undefined;
  ports?:
    | { name?: string | undefined; port?: number | undefined; protocol?: string | undefined }[]
    | undefined;
}
