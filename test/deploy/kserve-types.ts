/**
 * KServe's ServingRuntime (serving.kserve.io/v1alpha1) as TypeScript types, field for field from
 * its Go API (pkg/apis/serving/v1alpha1/servingruntime_types.go): the schema the manifest check
 * holds deploy/kserve/ to, with Kubernetes' own types (kubernetes-types) for the pod parts.
 */
import type { Affinity, Container, EnvVar, LocalObjectReference, Toleration, Volume } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

export interface SupportedModelFormat {
  name: string;
  version?: string;
  autoSelect?: boolean;
  priority?: number;
}

interface ServingRuntimePodSpec {
  containers: Container[];
  volumes?: Volume[];
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  imagePullSecrets?: LocalObjectReference[];
  hostIPC?: boolean;
}

interface WorkerSpec extends ServingRuntimePodSpec {
  pipelineParallelSize?: number;
  tensorParallelSize?: number;
}

export interface ServingRuntimeSpec extends ServingRuntimePodSpec {
  supportedModelFormats?: SupportedModelFormat[];
  multiModel?: boolean;
  disabled?: boolean;
  protocolVersions?: Array<'v1' | 'v2' | 'grpc-v1' | 'grpc-v2'>;
  workerSpec?: WorkerSpec;
  grpcEndpoint?: string;
  grpcDataEndpoint?: string;
  httpDataEndpoint?: string;
  replicas?: number;
  storageHelper?: { disabled?: boolean };
  builtInAdapter?: {
    serverType?: string;
    runtimeManagementPort?: number;
    memBufferBytes?: number;
    modelLoadingTimeoutMillis?: number;
    env?: EnvVar[];
  };
}

export interface ServingRuntime {
  apiVersion: 'serving.kserve.io/v1alpha1';
  kind: 'ServingRuntime';
  metadata: ObjectMeta;
  spec: ServingRuntimeSpec;
}
