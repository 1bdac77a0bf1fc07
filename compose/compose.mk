# Docker Compose deployment targets, included by the main Makefile
# (`include compose/compose.mk`). Every target runs from the repository root.

# The main Makefile's virtualenv interpreter when included from it.
COMPOSE_PYTHON ?= $(or $(PY),$(if $(wildcard .venv/bin/python),.venv/bin/python,python3))
COMPOSE_REGIONS ?= r1,r2
# Meters simulated by one replica of meter-<region>, and replicas per region.
METERS_PER_REPLICA ?= 500
METER_REPLICAS ?= 2
# Seconds between two readings of one meter.
METER_INTERVAL ?= 15
# MQTT accounts generated per region: enough for every simulated meter.
ACCOUNT_METERS ?= $(shell echo $$(( $(METERS_PER_REPLICA) * $(METER_REPLICAS) )))
COMPOSE_ACCOUNTS_DIR ?= broker/generated
COMPOSE_ENV = NEVOA_METERS_PER_REPLICA=$(METERS_PER_REPLICA) NEVOA_METER_REPLICAS=$(METER_REPLICAS) \
	NEVOA_METER_INTERVAL=$(METER_INTERVAL) NEVOA_DEMO_METERS_PER_REGION=$(ACCOUNT_METERS) \
	NEVOA_ACCOUNTS_DIR=$(COMPOSE_ACCOUNTS_DIR)
DC = $(COMPOSE_ENV) compose/dc.sh

.PHONY: accounts certs docker-engine images up down logs ps scale compose-config test-compose

accounts: ## generate MQTT passwords and ACLs for the compose brokers (broker/generated, git-ignored)
	$(COMPOSE_PYTHON) broker/gen_accounts.py --regions $(COMPOSE_REGIONS) \
		--meters-per-region $(ACCOUNT_METERS) --out $(COMPOSE_ACCOUNTS_DIR)

certs: ## make (or keep) the brokers' TLS CA and certificates; CERTS_ARGS=--rotate renews them
	$(COMPOSE_PYTHON) broker/gen_certs.py --regions $(COMPOSE_REGIONS) --container-readable \
		--out $(COMPOSE_ACCOUNTS_DIR) $(CERTS_ARGS)

docker-engine: ## start a local Docker engine if none answers (installs docker.io if needed)
	compose/ensure-docker.sh

images: docker-engine ## build the base and service images locally, no registry needed
	compose/build-base-images.sh

up: images accounts ## start 2 regions + cloud in the background (METER_REPLICAS, METERS_PER_REPLICA)
	$(DC) up -d --wait --wait-timeout 180
	@echo "cloud API: http://127.0.0.1:$${NEVOA_CLOUD_PORT:-8000}/health"

down: ## stop the stack and remove its containers (V=1 also deletes its volumes)
	$(DC) down --remove-orphans $(if $(V),--volumes)

logs: ## follow the stack's logs (SERVICE=fog-r1 for one service)
	$(DC) logs -f --tail 100 $(SERVICE)

ps: ## list the stack's containers and their health
	$(DC) ps

scale: accounts ## set meter replicas per region: make scale METER_REPLICAS=4
	@# New replicas simulate new meters: their accounts were just added (existing
	@# passwords kept); the brokers reload passwd and ACL files on SIGHUP.
	$(DC) kill -s SIGHUP mqtt-r1 mqtt-r2
	$(DC) run --rm --no-deps cloud-demo
	$(DC) up -d --wait --no-deps --scale meter-r1=$(METER_REPLICAS) \
		--scale meter-r2=$(METER_REPLICAS) meter-r1 meter-r2

compose-config: install ## validate compose/docker-compose.yml with docker compose config -q
	$(COMPOSE_PYTHON) -m pytest -q -p no:cacheprovider tests/compose/test_compose_config.py

test-compose: install docker-engine ## opt-in end-to-end test: builds images, runs 2 regions x 1,000 meters in Docker
	NEVOA_TEST_COMPOSE=1 $(COMPOSE_PYTHON) -m pytest -m compose -v -s -p no:cacheprovider tests/compose
