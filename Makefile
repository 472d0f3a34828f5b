# Kairos build. `make` builds ./kairos; `make test` builds and runs the suite;
# `make check-asan` runs the same suite under AddressSanitizer and
# UndefinedBehaviorSanitizer; `make run` installs what is missing and serves.

PKGS     := libh2o-evloop libmongoc-1.0 libbson-1.0 sqlite3 jansson libjwt libsodium libcurl libcrypt
CC       ?= cc
BUILD    ?= build
CFLAGS   ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -I. -DH2O_USE_LIBUV=0 \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
override LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lssl -lcrypto -lm

LIB_SRC  := $(filter-out server/main.c,$(wildcard server/*.c)) \
            $(wildcard storage/*.c storage/spatialite/*.c storage/mongo/*.c auth/*.c mail/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard t/unit/*.c)
UNIT_BIN := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/%)
DEPS     := $(LIB_OBJ:.o=.d) $(BUILD)/server/main.d

.PHONY: all test check-asan run deps clean format bench

all: kairos

kairos: $(BUILD)/kairos
	cp $< $@

$(BUILD)/kairos: $(BUILD)/server/main.o $(BUILD)/libkairos.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libkairos.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/t/%: t/unit/%.c $(BUILD)/libkairos.a t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libkairos.a $(LDLIBS)

test: $(BUILD)/kairos $(UNIT_BIN)
	KAIROS_BIN=$(abspath $(BUILD)/kairos) prove $(PROVE_FLAGS) $(UNIT_BIN) t/api/*.t

check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" test

deps:
	sh etc/install-deps.sh

run: deps kairos
	./kairos serve

# Throughput and latency of the hot routes against a bare libh2o server (etc/bench.sh).
bench:
	sh etc/bench.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan kairos

include docs/Makefile.inc

-include $(DEPS)

# Deployment to AWS: `make image`, `make push`, `make deploy`. STACK_NAME,
# AWS_REGION, AWS_ACCOUNT_ID and REPO_NAME come from the environment, else
# from .env. `deploy` passes SECRET_KEY, KAIROS_STORAGE (a MongoDB URI),
# RESEND_API_KEY, MAIL_FROM, FRONTEND_URL and CORS_ORIGINS to the stack when
# set (environment, else .env); an existing stack keeps the previous value of
# any that is not set.
dotenv = $(shell sed -n 's/^$(1)=//p' .env 2>/dev/null | tail -n 1)
STACK_NAME     ?= $(call dotenv,STACK_NAME)
AWS_REGION     ?= $(call dotenv,AWS_REGION)
AWS_ACCOUNT_ID ?= $(call dotenv,AWS_ACCOUNT_ID)
REPO_NAME      ?= $(call dotenv,REPO_NAME)
IMAGE_TAG      ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
REGISTRY       := $(AWS_ACCOUNT_ID).dkr.ecr.$(AWS_REGION).amazonaws.com
IMAGE_URI      := $(REGISTRY)/$(REPO_NAME):$(IMAGE_TAG)
STACK_SETTINGS := SECRET_KEY KAIROS_STORAGE RESEND_API_KEY MAIL_FROM FRONTEND_URL CORS_ORIGINS
$(foreach v,$(STACK_SETTINGS),$(eval $(v) ?= $$(call dotenv,$(v))))

.PHONY: image push deploy deploy-check

deploy-check:
	@test -n "$(STACK_NAME)" || { echo "make: STACK_NAME is not set (environment or .env)" >&2; exit 1; }
	@test -n "$(AWS_REGION)" || { echo "make: AWS_REGION is not set (environment or .env)" >&2; exit 1; }
	@test -n "$(AWS_ACCOUNT_ID)" || { echo "make: AWS_ACCOUNT_ID is not set (environment or .env)" >&2; exit 1; }
	@test -n "$(REPO_NAME)" || { echo "make: REPO_NAME is not set (environment or .env)" >&2; exit 1; }
	@test -n "$(IMAGE_TAG)" || { echo "make: IMAGE_TAG is not set and git has no HEAD" >&2; exit 1; }

image:
	docker build --platform linux/amd64 --provenance=false -t $(REPO_NAME):$(IMAGE_TAG) .

push: deploy-check image
	aws ecr describe-repositories --region $(AWS_REGION) --repository-names $(REPO_NAME) >/dev/null 2>&1 || \
	    aws ecr create-repository --region $(AWS_REGION) --repository-name $(REPO_NAME) \
	        --image-scanning-configuration scanOnPush=true >/dev/null
	aws ecr get-login-password --region $(AWS_REGION) | docker login --username AWS --password-stdin $(REGISTRY)
	docker tag $(REPO_NAME):$(IMAGE_TAG) $(IMAGE_URI)
	docker push $(IMAGE_URI)

# Secret values stay out of make's output: the recipe is silent and reads them
# from its environment.
deploy: export SECRET_KEY := $(SECRET_KEY)
deploy: export KAIROS_STORAGE := $(KAIROS_STORAGE)
deploy: export RESEND_API_KEY := $(RESEND_API_KEY)
deploy: export MAIL_FROM := $(MAIL_FROM)
deploy: export FRONTEND_URL := $(FRONTEND_URL)
deploy: export CORS_ORIGINS := $(CORS_ORIGINS)
deploy: deploy-check
	@set -- "ImageUri=$(IMAGE_URI)"; \
	for pair in SecretKey=SECRET_KEY MongoUri=KAIROS_STORAGE ResendApiKey=RESEND_API_KEY MailFrom=MAIL_FROM \
	            FrontendUrl=FRONTEND_URL CorsOrigins=CORS_ORIGINS; do \
	    value=$$(printenv "$${pair#*=}" || true); \
	    if [ -n "$$value" ]; then set -- "$$@" "$${pair%%=*}=$$value"; fi; \
	done; \
	echo "deploying $(IMAGE_URI) to stack $(STACK_NAME) in $(AWS_REGION)"; \
	aws cloudformation deploy --region $(AWS_REGION) --stack-name $(STACK_NAME) --template-file template.yaml \
	    --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset --parameter-overrides "$$@"
	@aws cloudformation describe-stacks --region $(AWS_REGION) --stack-name $(STACK_NAME) \
	    --query "Stacks[0].Outputs[?OutputKey=='ApiEndpoint'].OutputValue" --output text
