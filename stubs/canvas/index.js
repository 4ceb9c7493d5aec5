'use strict';
// Custodian reads ROOT files with jsroot and never draws in Node, so canvas is never called.
function unavailable() {
  throw new Error('canvas is not installed: Custodian does not render images in Node');
}
module.exports = { createCanvas: unavailable, loadImage: unavailable, Image: unavailable };
