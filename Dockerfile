# One image for every process of the gateway (web, worker, beat, flower, migrate).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 releve
WORKDIR /app

COPY pyproject.toml README.md ./
COPY models ./models
COPY pipeline ./pipeline
COPY webapp ./webapp
COPY sandbox ./sandbox
COPY releve ./releve
COPY migrations ./migrations
# A plain install: the migrations ship inside the package (`releve db upgrade` finds them there).
RUN pip install --no-cache-dir .

USER releve
ENV RELEVE_ENV=production
EXPOSE 8000 5555
CMD ["releve", "web", "--bind", "0.0.0.0:8000"]
