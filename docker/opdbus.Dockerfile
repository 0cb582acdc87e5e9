# The bus's own processes for compose.yaml (opdbus-init, demo). Build from the repository root.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a source change does not reinstall them.
# (Every one has a manylinux wheel for CPython 3.11: no compiler needed.)
COPY pyproject.toml ./
RUN python -c "import tomllib; \
      project = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
      print('\n'.join(project['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY . .
# Editable: opdbus reads config/ and schemas/ beside its package (opdbus.config.REPO_ROOT),
# which a plain site-packages install would not carry.
RUN pip install --no-deps -e . \
 && useradd --create-home --uid 10001 opdbus

USER opdbus
ENTRYPOINT ["opdbus"]
CMD ["--help"]
