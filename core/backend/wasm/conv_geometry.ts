/**
 * The geometry of one 2-D convolution as the wasm gradient kernels and the SIMD kernels need
 * it (NHWC, no dilation), from tfjs's conv info.
 *
 * @module
 */
import type { backend_util } from "@tensorflow/tfjs-core";

/** Geometry of one convolution, as the kernels here need it. */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
}

/** Extracts {@linkcode ConvGeometry} from tfjs's conv info; rejects what the kernels do not do. */
export function geometry(info: backend_util.Conv2DInfo, kernel: string): ConvGeometry {
  if (info.dataFormat !== "channelsLast") {
    throw new Error(`${kernel} on wasm supports only dataFormat 'NHWC' (channelsLast)`);
  }
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error(`${kernel} on wasm supports only dilation 1`);
  }
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    fh: info.filterHeight,
    fw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}
