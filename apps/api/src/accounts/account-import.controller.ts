import { Controller, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AccountImportService, ImportReport } from '@app/core';
import { MAX_ACCOUNT_LINE_CHARS, MIN_PASSWORD_CHANGE_YEAR } from '@app/domain';
import { Access, ROLES } from '../auth/access.decorator';
import { Actor } from '../auth/principal';
import { ApiError } from '../common/api-exceptions';
import { ApiProblem } from '../common/problem.dto';
import type { ApiSettings } from '@app/config';
import { API_SETTINGS } from '../infra.tokens';
import { ImportQueryDto, ImportReportDto } from './account-import.dto';
import { csvUpload } from './csv-upload';

@ApiTags('accounts')
@Controller('accounts')
export class AccountImportController {
  constructor(
    private readonly imports: AccountImportService,
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
  ) {}

  @Post('import')
  @HttpCode(200)
  @Access(...ROLES.ops)
  @ApiOperation({
    summary: 'streamed CSV import (login,cohorts,leaked,password_changed_at); all or nothing',
    description:
      `UTF-8 (a field that is not, or holds NUL, is a bad line naming its field); lines of at most ` +
      `${MAX_ACCOUNT_LINE_CHARS} characters (a longer one stops the import at once: 413 line_too_long); ` +
      `password_changed_at in ISO 8601 with an offset, from ${MIN_PASSWORD_CHANGE_YEAR} on.`,
  })
  @ApiConsumes('text/csv')
  @ApiBody({
    schema: { type: 'string', example: 'login,cohorts,leaked,password_changed_at\nuser1@example.test,health,false,\n' },
  })
  @ApiOkResponse({ type: ImportReportDto, description: 'imported (with ?partial=true, bad lines are reported)' })
  @ApiProblem(400, 'missing_header, wrong_header')
  @ApiProblem(422, 'import_rejected: nothing imported; report and errors')
  @ApiProblem(413, 'payload_too_large, too_many_lines, line_too_long (line and field named)')
  @ApiProblem(415, 'unsupported media type')
  async importCsv(@Query() query: ImportQueryDto, @Req() req: Request, @Actor() actor: string): Promise<ImportReport> {
    const report = await this.imports.importCsv(csvUpload(req, this.settings.API_CSV_MAX_MB * 1048576), {
      partial: query.partial ?? false,
      actor,
      maxLines: this.settings.API_CSV_MAX_LINES,
    });
    if (report.status === 'rejected') throw rejected(report);
    return report;
  }
}

/** All or nothing: one bad line and nothing is written; every bad line is named (line, field, reason). */
function rejected(report: ImportReport): ApiError {
  return new ApiError(
    422,
    'import_rejected',
    `${report.rejected} of ${report.lines} lines are invalid: nothing was imported (fix them, or use ?partial=true)`,
    {
      field: report.errors[0]?.field,
      errors: report.errors.map((e) => ({
        line: e.line,
        field: e.field ?? 'line',
        message: `line ${e.line}: ${e.reason}`,
      })),
      report,
    },
  );
}
