"""Drop-in benchmark: jwkscache.PyJWKClient vs PyJWT's PyJWKClient (release build please)."""

from jwkscache._bench_client import main

if __name__ == "__main__":
    main()
