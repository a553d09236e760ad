"""Build the Lambda deployment package: python scripts/build_lambda.py [--out FILE]."""

from tickstack.deploy.package import main

if __name__ == "__main__":
    main()
