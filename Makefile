# The two commands a newcomer runs on a fresh machine:
#   make run    set up (.venv) and open the labelassist app on a demo volume with the demo model
#               (no display: the command-line demo instead)
#   make test   set up (.venv with the test tools) and run the whole test suite
# Both create .venv when it is missing and re-install only when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DEMO   := demo

.PHONY: run test setup setup-dev bench demo-model demo-model-us clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e ".[qt,napari,crf]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	    $(VENV)/bin/labelassist app --demo; \
	else \
	    echo "make run: no display (DISPLAY is not set): running the command-line demo instead of the app"; \
	    $(VENV)/bin/labelassist demo $(DEMO); \
	fi

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check labelassist tests benchmarks
	$(PY) -m pytest -q

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_boundaryfit.py
	$(PY) benchmarks/bench_cam.py
	$(PY) benchmarks/report_accuracy.py

# Re-train the shipped demo model exactly as the README says (minutes on a 2-core CPU).
demo-model: $(VENV)/.installed
	rm -rf /tmp/demo-train
	$(VENV)/bin/labelassist demo-data /tmp/demo-train --seed 0 --us 0 --mri 18 --setting easy --twins
	cd /tmp/demo-train/mri && $(CURDIR)/$(VENV)/bin/labelassist train $$(ls easy/vol_*.nii.gz | grep -v _mask) \
	    --masks $$(ls easy/vol_*_mask.nii.gz) -o $(CURDIR)/resources/demo_model.pt \
	    --half --epochs 16 --patience 8 --arch resnet18 --input-size 96 --output-stride 16 --pool max --seed 0

# Re-train the shipped ultrasound demo model (the demo cines' scan areas; about 30 minutes on a 2-core CPU).
demo-model-us: $(VENV)/.installed
	rm -rf /tmp/demo-us-train
	$(VENV)/bin/labelassist demo-data /tmp/demo-us-train --seed 0 --mri 0 --us 0 --cine 16 --twins
	cd /tmp/demo-us-train/us && $(CURDIR)/$(VENV)/bin/labelassist train $$(ls easy/cine_*.dcm hard/cine_*.dcm) \
	    --masks $$(ls easy/cine_*_mask.nii.gz hard/cine_*_mask.nii.gz) -o $(CURDIR)/resources/demo_model_us.pt \
	    --half --epochs 16 --patience 8 --arch resnet18 --input-size 96 --output-stride 16 --pool max --seed 0

clean:
	rm -rf $(DEMO) .pytest_cache .hypothesis
