"""Entry point for `kfbootstrap` and `python -m kfbootstrap`."""


def main() -> None:
    from kfbootstrap.cli.app import run

    run()


if __name__ == "__main__":
    main()
