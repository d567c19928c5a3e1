# Every target creates the local virtualenv (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: venv kernels test test-quick demo summary bazel-test bench clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

# The network and layer tests run a second time with TensorFlow's oneDNN ops
# in the mode this run did not use (TF leaves them off by default on e.g. AMD
# CPUs, on for Intel): every style, output_stride and folding choice must run
# both ways.
ONEDNN_TESTS := tests/batch_norm_folding_test.py tests/resnet_styles_test.py \
	tests/resnet_api_test.py tests/se_block_test.py

# The SE tail op (nets/layers/kernels/se_tail.cc), compiled with g++ against the
# installed TensorFlow into ~/.cache/slim_senet/kernels (SLIM_SENET_KERNEL_DIR
# overrides). Optional: without it the SE blocks use TensorFlow's ops, and the
# library is also built on first use. SLIM_SENET_CUSTOM_OPS=0 skips it.
kernels: venv
	$(PY) -c 'from nets.layers import se_tail; print(se_tail.build())' || echo "kernels: not built; the SE blocks will use TensorFlow's ops"

test: venv kernels
	$(PY) -m pytest -q tests
	TF_ENABLE_ONEDNN_OPTS=$$($(PY) -c 'from nets.layers import batch_norm_folding as b; print(int(not b.onednn_enabled()))' 2>/dev/null) \
		$(PY) -m pytest -q $(ONEDNN_TESTS)

# The edit-test loop: unit tests only (no subprocesses, no multi-process
# training, no full-size networks); `make test` runs everything.
test-quick: venv kernels
	$(PY) -m pytest -q -m 'not slow' tests

# The README's main job: on a fresh machine, convert the embedded digits
# dataset, train a small SE-ResNet on 2 CPU cores, evaluate it on the test
# split in inference mode (batch norm moving statistics) and print accuracy.
# A small SE-ResNet-14 (bottlenecks 1/4 wide) at 32x32: ~22 epochs.
# Batch norm decay 0.9 (Slim's 0.997 needs ~1000 steps for its moving
# statistics to forget their initial values; this run has 500).
DEMO_DIR ?= /tmp/slim_senet_demo
DEMO_DATA := --dataset_name=digits --dataset_dir=$(DEMO_DIR)/digits
DEMO_MODEL := --model_name=se_resnet_v1_14 --depth_multiplier=0.25 \
	--preprocessing_name=digits
DEMO_TRAIN := --train_image_size=32 --batch_size=64 --max_number_of_steps=500 \
	--optimizer=momentum --momentum=0.9 --learning_rate=0.05 \
	--learning_rate_decay_type=polynomial --num_epochs_per_decay=22.3 \
	--end_learning_rate=0.0005 --weight_decay=0.0001 --batch_norm_decay=0.9 \
	--log_every_n_steps=50 --save_interval_secs=60 --save_summaries_secs=60

demo: venv
	rm -rf $(DEMO_DIR)/train $(DEMO_DIR)/eval
	$(PY) download_and_convert_data.py $(DEMO_DATA)
	$(PY) train_image_classifier.py $(DEMO_DATA) $(DEMO_MODEL) $(DEMO_TRAIN) \
		--train_dir=$(DEMO_DIR)/train
	$(PY) eval_image_classifier.py $(DEMO_DATA) $(DEMO_MODEL) \
		--dataset_split_name=test --eval_image_size=32 \
		--checkpoint_path=$(DEMO_DIR)/train --eval_dir=$(DEMO_DIR)/eval

summary: venv
	$(PY) -m diagnostics.model_summary --model_name=se_resnet_v1_50

# Bazel (Debian's bazel-bootstrap, installed on first use): bazel test //...
bazel-test: venv
	VENV=$(abspath $(VENV)) tools/bazel_test.sh

# The side-by-side model benchmark (README "Performance"); BENCH_FLAGS=--quick for a short run.
bench: venv
	$(PY) -m benchmarks.bench_models $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) /tmp/slim_senet_demo
