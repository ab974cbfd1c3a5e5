/** The ONNX protobuf messages (onnx-proto: protobufjs static code, CommonJS), the toolchain's one value import of it. */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export const TensorDataType = onnx.TensorProto.DataType;
export const AttributeType = onnx.AttributeProto.AttributeType;
