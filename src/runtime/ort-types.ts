import type { TensorDatatype } from '../contracts/tensor.js';

/** Open Inference Protocol datatypes and ONNX Runtime element types, both ways. */
export const ORT_TYPE_OF: Readonly<Record<TensorDatatype, string>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

export const DATATYPE_OF_ORT: Readonly<Record<string, TensorDatatype>> = Object.fromEntries(
  Object.entries(ORT_TYPE_OF).map(([datatype, ort]) => [ort, datatype as TensorDatatype]),
);
