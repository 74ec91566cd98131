// imgcls/infer: what classifying needs, without TF.js. A head-mode checkpoint runs on ONNX Runtime (the cached
// backbone ONNX) plus the dense head in plain JS; the class activation map comes from the backbone's last feature map
// (an extra ONNX output) and the head weights. TF.js loads only when a top-k/full checkpoint, the TF.js engine or a
// first backbone export needs it. Also the small TF.js-free jobs an editor needs: data report, add to class, sorting.
export * from './errors.js';
export type * from './data/types.js';
export type * from './model/types.js';
export { IMAGE_EXTENSIONS, isImageFile, scanDataset } from './data/scan.js';
export { datasetReport, formatDatasetReport, type DatasetReport, type ReportedFile, type Leak, type ExactDuplicateGroup, type NearDuplicatePair } from './data/report.js';
export { addToClass, undoAddToClass, type AddedToClass, type AddToClassUndo, type UndoOutcome } from './data/add-to-class.js';
export { loadClassifier, rankPredictions, type LoadClassifierOptions } from './model/classifier.js';
export { leastSureFirst, predictionMargin, type SureableResult } from './predict/least-sure.js';
export { explain, type Explanation, type ExplainOptions } from './explain/explain.js';
export { renderOverlayPng, type OverlayPngOptions } from './explain/overlay.js';
export { readHistory } from './train/history.js';
export { lossCurveFigure, accuracyCurveFigure } from './plots/history-figures.js';
