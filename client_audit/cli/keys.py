"""client-audit keys: Ed25519 keys that sign checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from projections.chain.signing import SigningKey, SigningKeyError, public_pem


@click.group()
def keys() -> None:
    """Make and show the Ed25519 keys the projector signs checkpoints with.

    Give the private key to `client-audit project --signing-key FILE` (or
    CLIENT_AUDIT_SIGNING_KEY); give the public key to whoever checks evidence. Each key has
    an id (16 hex digits of the SHA-256 of its raw public key) that checkpoints name, so a
    new key can take over while evidence signed by the old one still verifies: keep the old
    public key and pass both to `verify-log --checkpoints` / `verify-proof`.
    """


@keys.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write the private key to (PKCS#8 PEM, mode 0600; must not exist).")
def generate(out: Path) -> None:
    """Write a new private key to --out and print its public key (PEM) and key id."""
    key = SigningKey.generate()
    try:
        key.write(out)
    except FileExistsError:
        raise click.BadParameter(f"{out} exists; refusing to overwrite a key",
                                 param_hint="--out") from None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {out}: {exc.strerror}", param_hint="--out"
        ) from None
    click.echo(public_pem(key.public), nl=False)
    click.echo(f"key id: {key.key_id}", err=True)


@keys.command()
@click.option("--key", "key_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A private key file written by `keys generate`.")
def show(key_file: Path) -> None:
    """Print the public key (PEM) and key id of a private key file."""
    try:
        key = SigningKey.load(key_file)
    except SigningKeyError as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from None
    click.echo(public_pem(key.public), nl=False)
    click.echo(f"key id: {key.key_id}", err=True)
