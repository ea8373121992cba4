"""Options declared once: flag, type, default, help and check.

A :class:`Setting` is the one declaration of an option. From it come the
``jeeves`` subcommands' argparse options, the jobs' passthrough arguments
(mrjob's ``add_passthru_arg`` takes argparse's arguments), the job
arguments the driver passes (``job_args``) and the checks of the frozen
configuration objects (``check_settings`` in their ``__post_init__``).
Declarations live beside the code they configure (the graph settings in
jeeves.features.graph), at the bottom with jeeves.errors: jobs, models, the
driver library and the CLI all import them.
"""

import argparse


class Setting:
    """One option: ``--flag`` (the attribute is ``dest``, by default the
    flag's name with underscores), its type, default and help; ``minimum``
    bounds numbers. A setting with a boolean default and no type is a switch:
    ``--flag`` sets True (default False) or, as ``--no-...``, False."""

    def __init__(self, flag, default=None, type=None, help="", minimum=None, choices=None,
                 metavar=None, dest=None):
        self.flag = flag
        self.name = dest or flag.lstrip("-").replace("-", "_")
        self.default = default
        self.type = type
        self.help = help
        self.minimum = minimum
        self.choices = choices
        self.metavar = metavar

    @property
    def is_switch(self):
        return isinstance(self.default, bool) and self.type is None

    def parse(self, text):
        """argparse's type: the value of ``text``, checked."""
        try:
            value = self.type(text)
        except (TypeError, ValueError) as error:
            if self.type in (int, float):
                message = "invalid %s value: %r" % (self.type.__name__, text)
            else:
                message = str(error)
            raise argparse.ArgumentTypeError(message) from None
        problem = self.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    def problem(self, value):
        """What is wrong with ``value`` ("must be at least 1, not 0"), or None."""
        if self.minimum is not None and value is not None and value < self.minimum:
            return "must be at least %s, not %s" % (self.minimum, value)
        if self.choices is not None and value not in self.choices:
            return "must be one of %s, not %r" % (", ".join(map(str, self.choices)), value)
        return None

    def check(self, value):
        """``value`` itself when it is allowed; ValueError naming the flag otherwise."""
        problem = self.problem(value)
        if problem:
            raise ValueError("%s %s" % (self.flag, problem))
        return value

    def add_to(self, add_argument):
        """Declare the option with ``add_argument`` (argparse's, or mrjob's add_passthru_arg)."""
        if self.is_switch:
            add_argument(self.flag, dest=self.name, help=self.help,
                         action="store_false" if self.default else "store_true")
            return
        options = {"default": self.default, "help": self.help}
        if self.type is not None:
            options["type"] = self.parse
        if self.choices is not None:
            options["choices"] = self.choices
        if self.metavar is not None:
            options["metavar"] = self.metavar
        add_argument(self.flag, **options)

    def job_args(self, value):
        """The arguments that give a job ``value``."""
        if self.is_switch:
            return [self.flag] if value != self.default else []
        return [] if value is None else [self.flag, str(value)]


def add_settings(add_argument, settings):
    for setting in settings:
        setting.add_to(add_argument)


def values_of(source, settings):
    """{name: value} of ``settings`` read from ``source`` (an argparse
    namespace, a config object or mrjob's ``self.options``)."""
    return {setting.name: getattr(source, setting.name) for setting in settings}


def job_args(source, settings):
    """The job arguments of ``settings`` with their values in ``source``."""
    args = []
    for setting in settings:
        args += setting.job_args(getattr(source, setting.name))
    return args


def check_settings(source, settings):
    """Check every setting's value in ``source``; ValueError for the first bad one."""
    for setting in settings:
        setting.check(getattr(source, setting.name))
