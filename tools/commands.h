/* commands.h — subcommands of the segcam program that live in files of their own. Each takes
 * argv with argv[0] the subcommand's name and returns the exit status (README, "Command line"). */
#ifndef SEGCAM_COMMANDS_H
#define SEGCAM_COMMANDS_H

int segcam_cmd_dataset (int argc, char **argv);
int segcam_cmd_train (int argc, char **argv);
int segcam_cmd_bias (int argc, char **argv);
int segcam_cmd_import (int argc, char **argv);
int segcam_cmd_evaluate (int argc, char **argv);

#endif /* SEGCAM_COMMANDS_H */
