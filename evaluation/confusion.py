"""Confusion matrices: counting, CSV and a PNG drawn with Pillow.

Rows are true labels, columns predicted labels (both after labels_offset).

    matrix = np.zeros([10, 10], np.int64)
    add(matrix, labels, predictions)
    write_csv('/tmp/eval/confusion_matrix.csv', matrix, names)
    write_png('/tmp/eval/confusion_matrix.png', matrix, names)
"""
import csv

import numpy as np

# Cells are drawn with text up to this many classes; beyond, as pixels.
_MAX_CLASSES_WITH_TEXT = 40
_CELL = 28
_PIXEL_CELL_TARGET = 800


def add(matrix, labels, predictions):
  """Adds one batch of (true, predicted) pairs to `matrix` in place."""
  np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)


def class_names(num_classes, labels_to_names=None, labels_offset=0):
  """Names of the network's classes 0..num_classes-1 (dataset ids shifted
  by `labels_offset`), from labels.txt when known, else the ids."""
  names = []
  for i in range(num_classes):
    label = i + labels_offset
    name = (labels_to_names or {}).get(label)
    names.append(str(name) if name is not None else str(label))
  return names


def write_csv(path, matrix, names):
  """A header row of predicted names; one row per true class."""
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['true\\predicted'] + list(names))
    for name, row in zip(names, matrix):
      writer.writerow([name] + [int(v) for v in row])


def read_csv(path):
  """(matrix int64 [C, C], names) from a file written by `write_csv`."""
  with open(path, newline='') as f:
    rows = list(csv.reader(f))
  names = rows[0][1:]
  matrix = np.array([[int(v) for v in row[1:]] for row in rows[1:]],
                    dtype=np.int64)
  return matrix, names


def _shade(matrix):
  """0..255 intensity per cell, normalised per true class (row)."""
  totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
  return np.round(255.0 * matrix / totals).astype(np.uint8)


def render(matrix, names):
  """The matrix as a PIL image: darker blue = larger share of the row."""
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
  shade = _shade(matrix)
  num_classes = len(names)
  rgb = np.stack([255 - shade, 255 - shade // 2, np.full_like(shade, 255)],
                 axis=-1)
  if num_classes > _MAX_CLASSES_WITH_TEXT:
    scale = max(1, _PIXEL_CELL_TARGET // num_classes)
    return Image.fromarray(rgb, 'RGB').resize(
        (num_classes * scale, num_classes * scale), Image.NEAREST)
  margin = _CELL * 2
  size = margin + num_classes * _CELL
  image = Image.new('RGB', (size, size), 'white')
  draw = ImageDraw.Draw(image)
  draw.text((4, 4), 'true \\ pred', fill='black')
  for i, name in enumerate(names):
    offset = margin + i * _CELL + 4
    draw.text((offset, margin - 14), name[:4], fill='black')
    draw.text((4, offset + 4), name[:8], fill='black')
  for i in range(num_classes):
    for j in range(num_classes):
      x0, y0 = margin + j * _CELL, margin + i * _CELL
      draw.rectangle([x0, y0, x0 + _CELL - 1, y0 + _CELL - 1],
                     fill=tuple(int(c) for c in rgb[i, j]), outline='gray')
      if matrix[i, j]:
        draw.text((x0 + 3, y0 + 8), str(int(matrix[i, j])),
                  fill='white' if shade[i, j] > 140 else 'black')
  return image


def write_png(path, matrix, names):
  render(matrix, names).save(path, format='PNG')
