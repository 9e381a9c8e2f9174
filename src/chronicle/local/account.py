"""The emulated AWS account and region (moto's defaults), in a module of their own so that the emulator and the
modules it starts (fastpath, durable, stack, kms_keys) can share them without importing each other."""

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
