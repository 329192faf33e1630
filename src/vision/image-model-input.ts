import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { NamedTensors } from '../contracts/tensor.js';
import type { TaskModel } from '../tasks/task-models.service.js';

/**
 * One image's tensor data as the inputs of one run of a vision model: the input its `image`
 * preprocessing names (default its first), with a batch dimension of 1 when the model batches, so
 * the dynamic batcher can merge it with other requests' images.
 */
export function imageInputs(model: TaskModel, data: Float32Array): NamedTensors {
  const manifest = model.manifest;
  const inputName = manifest.image?.input ?? manifest.inputs[0]!.name;
  const spec = manifest.inputs.find((i) => i.name === inputName);
  if (!spec) throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}" has no input "${inputName}"`);
  const shape = manifest.maxBatchSize > 0 ? [1, ...spec.shape] : spec.shape;
  return { [inputName]: { datatype: 'FP32', shape, data } };
}
